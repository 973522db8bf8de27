//! What each job's tests check about the user's files, run against the
//! job's binary: every file that was there before a run that is refused,
//! fails at a step or is stopped by a signal is byte for byte as it was;
//! a stopped run saves the state it reached, which `--load` continues; a
//! checkpoint can be continued in place (`--load x --save x`).

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A job under test: its binary and a scratch folder of its own.
pub struct Job {
    binary: PathBuf,
    dir: PathBuf,
}

/// The files a run may touch, with the bytes each had before it.
struct Before(Vec<(PathBuf, Vec<u8>)>);

impl Before {
    fn take(paths: &[PathBuf]) -> Self {
        Self(
            paths
                .iter()
                .map(|p| (p.clone(), std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))))
                .collect(),
        )
    }

    fn unchanged(&self, what: &str) {
        for (path, bytes) in &self.0 {
            let now = std::fs::read(path).unwrap_or_else(|e| panic!("{what}: {} is gone: {e}", path.display()));
            assert!(now == *bytes, "{what}: {} changed ({} bytes, {} before)", path.display(), now.len(), bytes.len());
        }
    }
}

fn text(out: &Output) -> String {
    format!("exit {:?}\n{}\n{}", out.status, String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// The number in "continuing from …" or "evaluating … (N steps)".
fn steps_loaded(stdout: &str) -> u64 {
    let line =
        stdout.lines().find(|l| l.ends_with(" steps)")).unwrap_or_else(|| panic!("no checkpoint line:\n{stdout}"));
    let inside = line.rsplit_once('(').map_or("", |(_, t)| t);
    inside.trim_end_matches(" steps)").parse().unwrap_or_else(|_| panic!("{line}"))
}

impl Job {
    /// The job `binary`, with a fresh scratch folder named after `name`.
    #[must_use]
    pub fn new(binary: &str, name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("{name}-files-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self { binary: PathBuf::from(binary), dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.binary);
        cmd.current_dir(&self.dir).args(args);
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("the job runs")
    }

    /// Only the files the test made are in the folder: no temporary file was
    /// left beside them.
    fn nothing_stray(&self, what: &str) {
        for entry in std::fs::read_dir(&self.dir).unwrap() {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".part"), "{what}: {name} was left behind");
        }
    }

    /// A short run's checkpoint, notes and pictures, as a user would have
    /// them from an earlier run.
    fn earlier_run(&self) -> Vec<PathBuf> {
        let mut args = vec!["--epochs", "1"];
        args.extend(Self::OUTPUTS);
        let out = self.run(&args);
        assert!(out.status.success(), "{}", text(&out));
        ["good.ckpt", "good.ckpt.json", "repr.csv", "loss.svg", "proj.svg"].map(|n| self.path(n)).to_vec()
    }

    const OUTPUTS: [&'static str; 8] =
        ["--save", "good.ckpt", "--export-repr", "repr.csv", "--plot", "loss.svg", "--projection", "proj.svg"];

    /// Every way a run can end short, and the ways it goes on: a refused output, a failing step while
    /// continuing in place, a signal mid-run (which saves and continues), a
    /// successful `--load x --save x`, and an evaluation with zero epochs.
    /// `signal` is `"INT"` (Ctrl-C) or `"TERM"`.
    pub fn check_every_path(&self, signal: &str) {
        let files = self.earlier_run();

        // Refused: one output cannot be created; the others are untouched.
        let before = Before::take(&files);
        let out = self.run(&["--save", "good.ckpt", "--export-repr", "repr.csv", "--plot", "/etc/passwd/x.svg"]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("--plot"), "{}", text(&out));
        before.unchanged("a refused --plot");

        // A step that fails while continuing in place: the only copy stays.
        let mut args = vec!["--load", "good.ckpt", "--lr", "1e9"];
        args.extend(Self::OUTPUTS);
        let out = self.run(&args);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains("smaller --lr"), "no hint: {}", text(&out));
        before.unchanged("a failing step");

        // Zero epochs evaluate: no curves drawn, the old chart kept.
        let out = self.run(&["--epochs", "0", "--load", "good.ckpt", "--plot", "loss.svg", "--projection", "eval.svg"]);
        assert!(out.status.success(), "{}", text(&out));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("evaluating good.ckpt") && !stdout.contains("continuing"), "{stdout}");
        let first_steps = steps_loaded(&stdout);
        before.unchanged("an evaluation");
        self.nothing_stray("refusal, failure, evaluation");

        // A signal mid-run: the step under way ends, the state is saved to
        // --save (a new file here), the old outputs are kept, exit 128 + n.
        let mut stopped = Self::OUTPUTS;
        stopped[1] = "stopped.ckpt";
        let mut child =
            self.command(&stopped).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("the job starts");
        let stderr = child.stderr.take().expect("piped");
        let mut lines = std::io::BufReader::new(stderr).lines();
        let mut log = String::new();
        for line in lines.by_ref() {
            let line = line.unwrap();
            log.push_str(&line);
            log.push('\n');
            if line.starts_with("epoch ") {
                break;
            }
        }
        let kill = Command::new("kill").args([&format!("-{signal}"), &child.id().to_string()]).status().expect("kill");
        assert!(kill.success());
        log.extend(lines.map(|l| l.unwrap() + "\n"));
        let status = child.wait().unwrap();
        let (number, name) = if signal == "INT" { (2, "Ctrl-C (SIGINT)") } else { (15, "SIGTERM") };
        assert_eq!(status.code(), Some(128 + number), "{log}");
        assert!(log.contains(&format!("stopped by {name}")) && log.contains("saved to stopped.ckpt"), "{log}");
        before.unchanged("a signal");
        let out =
            self.run(&["--epochs", "1", "--load", "stopped.ckpt", "--plot", "after.svg", "--projection", "after2.svg"]);
        assert!(out.status.success(), "{}", text(&out));
        let resumed = steps_loaded(&String::from_utf8_lossy(&out.stdout));
        assert!(resumed > 0, "the stopped run saved no steps");
        self.nothing_stray("a signal");

        // Continuing in place: the file is replaced by the longer run's.
        let out = self.run(&["--epochs", "1", "--load", "good.ckpt", "--save", "good.ckpt"]);
        assert!(out.status.success(), "{}", text(&out));
        let out = self.run(&["--epochs", "0", "--load", "good.ckpt"]);
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(steps_loaded(&String::from_utf8_lossy(&out.stdout)), 2 * first_steps);
        let notes = std::fs::read_to_string(self.path("good.ckpt.json")).unwrap();
        assert!(notes.contains("\"continued_from\": \"good.ckpt after"), "{notes}");
        assert!(!notes.contains(&*self.dir.to_string_lossy()) && !notes.contains("/data/"), "a path in: {notes}");
        self.nothing_stray("--load x --save x");
    }

    /// The scratch folder.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
