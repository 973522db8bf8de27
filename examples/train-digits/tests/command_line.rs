//! The job's command line as users expect it: `--help` on stdout with every
//! option's default, `--version`, and bad input refused with a message that
//! names it, exit code 2, before any training starts.

use std::process::{Command, Output};

fn job(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_train-digits")).args(args).output().expect("the job runs")
}

#[test]
fn help_and_version_print_to_stdout_and_exit_0() {
    let help = job(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["--epochs", "--seed", "--lr", "--load", "--save", "--export-repr", "--plot", "--data"] {
        let line = text.lines().find(|l| l.trim_start().starts_with(option)).unwrap_or_else(|| panic!("{option}"));
        assert!(line.contains("[default:"), "{option} shows no default: {line}");
    }
    let version = job(&["--version"]);
    assert!(version.status.success());
    assert!(String::from_utf8_lossy(&version.stdout).contains(env!("CARGO_PKG_VERSION")));
}

#[test]
fn bad_input_is_refused_before_training_naming_it() {
    let cases: [(&[&str], &str); 7] = [
        (&["--lr", "-1"], "--lr"),
        (&["--lr", "nan"], "--lr"),
        (&["--lr", "0"], "--lr"),
        (&["--epochs", "0"], "--epochs"),
        (&["--epochs", "ten"], "--epochs"),
        (&["--epochs", "-3"], "-3 is not a whole number of epochs"),
        (&["--bogus"], "--bogus"),
    ];
    for (args, named) in cases {
        let out = job(args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(named), "{args:?}: the message does not name {named}: {stderr}");
        assert!(!String::from_utf8_lossy(&out.stdout).contains("epoch"), "{args:?} started training");
    }
    // An output that cannot be created fails before epoch 1, naming the option.
    let out = job(&["--plot", "/etc/passwd/x.svg"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("--plot") && stderr.contains("not a folder"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("epoch "), "training started");
}

/// A data set without a training split would train on nothing and score
/// chance: refused before any work, naming the file and the split.
#[test]
fn a_data_set_without_both_splits_is_refused() {
    let dir = std::env::temp_dir().join(format!("train-digits-splits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let header = format!("split,label,{}", (0..64).map(|i| format!("p{i}")).collect::<Vec<_>>().join(","));
    let row = |split: &str| format!("{split},3,{}", vec!["8"; 64].join(","));
    for (name, rows) in
        [("test-only.csv", [row("test"), row("test")]), ("train-only.csv", [row("train"), row("train")])]
    {
        let path = dir.join(name);
        std::fs::write(&path, format!("{header}\n{}\n", rows.join("\n"))).unwrap();
        let out = job(&["--data", path.to_str().unwrap(), "--plot", dir.join("x.svg").to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{name}: {stderr}");
        let missing = if name == "test-only.csv" { "no train samples" } else { "no test samples" };
        assert!(stderr.contains(missing) && stderr.contains(name), "{name}: {stderr}");
        assert!(!dir.join("x.svg").exists(), "{name}: a chart was drawn");
    }
    std::fs::remove_dir_all(&dir).ok();
}
