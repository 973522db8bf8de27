//! The options both training jobs take, checked before any work starts, and
//! their `main`: parse, run, and exit 0, 1 (the run failed), 2 (the command
//! line is wrong), or 128 + the signal's number when Ctrl-C (SIGINT) or
//! SIGTERM stopped the training (after the step under way, with the state
//! reached saved to `--save`).

use crate::output;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A training job's options. Each job gives its own defaults (see [`main`]);
/// `--help` lists them.
#[derive(Clone, Debug, clap::Parser)]
#[command(version, about = None, long_about = None)]
pub struct Options {
    /// Passes over the training data (0 only evaluates a checkpoint given with --load)
    #[arg(long, value_name = "N", value_parser = count, allow_negative_numbers = true)]
    pub epochs: usize,
    /// Seed of the weights, the augmentations and the probe's draws
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// Peak learning rate, a positive number
    #[arg(long, value_name = "LR", value_parser = positive, allow_negative_numbers = true)]
    pub lr: f32,
    /// Continue from a saved checkpoint (with --epochs 0, evaluate it) [default: none]
    #[arg(long, value_name = "CHECKPOINT")]
    pub load: Option<PathBuf>,
    /// Write a checkpoint with the optimiser's state [default: none]
    #[arg(long, value_name = "CHECKPOINT")]
    pub save: Option<PathBuf>,
    /// Write every sample's representation as split,label,y0,... [default: none]
    #[arg(long, value_name = "CSV")]
    pub export_repr: Option<PathBuf>,
    /// Draw the loss terms per epoch (SVG)
    #[arg(long, value_name = "SVG")]
    pub plot: PathBuf,
    /// Draw the test set's representations, before and after training, projected on their first two principal components (SVG)
    #[arg(long, value_name = "SVG")]
    pub projection: PathBuf,
    /// The data set
    #[arg(long, value_name = "CSV")]
    pub data: PathBuf,
    /// The encoder to train, for a job that offers more than one (the
    /// choices and the default are in its own help) [default: the job's]
    #[arg(long, value_name = "KIND")]
    pub encoder: Option<String>,
}

/// A learning rate: finite and positive (NaN, zero and negative rates are
/// refused here, before any work, rather than blamed on the loss later).
fn positive(text: &str) -> Result<f32, String> {
    match text.parse::<f32>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        Ok(v) => Err(format!("{v} is not a positive number")),
        Err(e) => Err(e.to_string()),
    }
}

/// A count of epochs: a whole number, 0 or more (a negative one is named
/// as such, not taken for an unknown option).
fn count(text: &str) -> Result<usize, String> {
    text.parse::<usize>().map_err(|_| format!("{text} is not a whole number of epochs (0 or more)"))
}

/// The command line of the job `name` (described by `about`), with
/// `defaults` shown and used.
#[must_use]
pub fn command(name: &'static str, about: &'static str, defaults: &Options) -> clap::Command {
    use clap::CommandFactory;
    let set = |cmd: clap::Command, id: &'static str, value: String| {
        cmd.mut_arg(id, |a| a.default_value(value).required(false))
    };
    let mut cmd = Options::command().name(name).bin_name(name).about(about);
    cmd = set(cmd, "epochs", defaults.epochs.to_string());
    cmd = set(cmd, "seed", defaults.seed.to_string());
    cmd = set(cmd, "lr", defaults.lr.to_string());
    cmd = set(cmd, "plot", defaults.plot.display().to_string());
    cmd = set(cmd, "projection", defaults.projection.display().to_string());
    cmd = set(cmd, "data", defaults.data.display().to_string());
    // A job with one encoder offers no choice.
    match &defaults.encoder {
        Some(choices) => cmd.mut_arg("encoder", |a| a.help(choices.clone())),
        None => cmd.mut_arg("encoder", |a| a.hide(true)),
    }
}

/// Parses `args` (the program name first) for the job `name` (described
/// by `about`) over
/// `defaults`, then checks what one option cannot check alone.
///
/// # Errors
///
/// Clap's error for an unknown option, a missing or unparsable value, a
/// learning rate that is not a positive number (and for `--help` and
/// `--version`, which it prints); a sentence for zero epochs without
/// `--load`.
pub fn parse(
    (name, about): (&'static str, &'static str),
    defaults: &Options,
    args: impl IntoIterator<Item = String>,
) -> Result<Options, clap::Error> {
    use clap::FromArgMatches;
    let mut cmd = command(name, about, defaults);
    let matches = cmd.try_get_matches_from_mut(args)?;
    let o = Options::from_arg_matches(&matches)?;
    if o.epochs == 0 && o.load.is_none() {
        return Err(cmd.error(
            clap::error::ErrorKind::ValueValidation,
            "--epochs must be at least 1 (0 only evaluates a checkpoint given with --load)",
        ));
    }
    Ok(o)
}

/// Reads the checkpoint `--load` names, if any: before any work, so that a
/// missing file fails at once.
///
/// # Errors
///
/// The path that cannot be read, and why.
pub fn read_load(o: &Options) -> Result<Option<Vec<u8>>, String> {
    o.load.as_ref().map(|p| std::fs::read(p).map_err(|e| format!("--load {}: {e}", p.display()))).transpose()
}

/// Checks, before any work starts, that every output the run will write
/// can be written, without touching any of them: a path that cannot be
/// written fails now rather than after the training, and a file that is
/// already there stays as it is until its replacement is complete.
///
/// # Errors
///
/// The option and path that cannot be written, and why.
pub fn check_outputs(o: &Options) -> Result<(), String> {
    let outputs = [
        ("--save", o.save.as_deref()),
        ("--export-repr", o.export_repr.as_deref()),
        ("--plot", Some(&*o.plot)),
        ("--projection", Some(&*o.projection)),
    ];
    for (flag, path) in outputs {
        if let Some(path) = path {
            output::check(flag, path)?;
        }
    }
    if let Some(save) = &o.save {
        output::check("--save", &notes_path(save))?;
    }
    Ok(())
}

/// Why a run ended without finishing.
#[derive(Debug)]
pub enum Stopped {
    /// It failed, for the reason given; exit code 1.
    Failed(String),
    /// A signal (`SIGINT`, `SIGTERM`) stopped the training after a step;
    /// the message says what was saved. Exit code 128 + the signal.
    Interrupted {
        /// The signal's number.
        signal: i32,
        /// What the run did about it.
        message: String,
    },
}

impl From<String> for Stopped {
    fn from(message: String) -> Self {
        Stopped::Failed(message)
    }
}

/// Ctrl-C (`SIGINT`) and `SIGTERM`, caught: the first asks the training to
/// stop after the step under way, so that the state reached can be saved;
/// a second of either ends the process at once (existing files are still
/// whole: nothing is renamed over them until it is complete).
#[derive(Clone)]
pub struct Interrupt {
    asked: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Interrupt {
    /// Installs the handlers.
    ///
    /// # Errors
    ///
    /// The operating system's reason, if a handler cannot be installed.
    pub fn install() -> Result<Self, String> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        let asked = Arc::new(AtomicBool::new(false));
        let signal = Arc::new(AtomicUsize::new(0));
        for sig in [SIGINT, SIGTERM] {
            let installed = signal_hook::flag::register_conditional_shutdown(sig, 128 + sig, Arc::clone(&asked))
                .and_then(|_| signal_hook::flag::register_usize(sig, Arc::clone(&signal), sig as usize))
                .and_then(|_| signal_hook::flag::register(sig, Arc::clone(&asked)));
            installed.map_err(|e| format!("cannot catch signal {sig}: {e}"))?;
        }
        Ok(Self { asked, signal })
    }

    /// The signal that asked the run to stop, if one did.
    #[must_use]
    pub fn signal(&self) -> Option<i32> {
        if self.asked.load(Ordering::SeqCst) { i32::try_from(self.signal.load(Ordering::SeqCst)).ok() } else { None }
    }
}

/// What a stopped run does: saves the state reached to `--save` (safely,
/// with its notes beside it) and says how to continue; the run then exits
/// with 128 + `signal`.
///
/// # Errors
///
/// Always a [`Stopped`]: [`Stopped::Interrupted`] with what was saved, or
/// [`Stopped::Failed`] if the save itself failed.
pub fn interrupted(o: &Options, signal: i32, steps: u32, checkpoint: Saved<'_>) -> Result<(), Stopped> {
    let name = if signal == signal_hook::consts::SIGINT { "Ctrl-C (SIGINT)" } else { "SIGTERM" };
    let message = match &o.save {
        Some(path) => {
            save_checkpoint(path, checkpoint)?;
            format!(
                "stopped by {name} after step {steps}: the state reached is saved to {} (continue with --load {})",
                path.display(),
                path.display()
            )
        }
        None => format!("stopped by {name} after step {steps}: nothing saved (no --save given)"),
    };
    Err(Stopped::Interrupted { signal, message })
}

/// The message of a training step that failed, with what to try: a loss
/// that overflowed from finite inputs is the learning rate's doing far more
/// often than the data's.
#[must_use]
pub fn step_failed(step: u32, e: &vicreg::Error, lr: f32) -> String {
    match e {
        vicreg::Error::NonFiniteResult | vicreg::Error::NonFiniteInput => {
            format!("step {step}: {e}; the weights diverged: try a smaller --lr than {lr}")
        }
        _ => format!("step {step}: {e}"),
    }
}

/// A job's `main`: parses the command line of the job `name` (described by
/// `about`) over `defaults` (`--help` and
/// `--version` print to stdout and exit 0; a bad option exits 2, naming it),
/// runs `run`, and reports its error under the job's `name` (exit 1).
pub fn main(
    (name, about): (&'static str, &'static str),
    defaults: Options,
    run: impl FnOnce(&Options) -> Result<(), Stopped>,
) -> ExitCode {
    let options = match parse((name, about), &defaults, std::env::args()) {
        Ok(o) => o,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Stopped::Failed(e)) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
        Err(Stopped::Interrupted { signal, message }) => {
            eprintln!("{name}: {message}");
            ExitCode::from(u8::try_from(128 + signal).unwrap_or(1))
        }
    }
}

/// The draws of the few-label probe: fixed, so that a checkpoint scores the
/// same whatever `--seed` evaluates it.
pub const PROBE_SEED: u64 = 0;

/// Says what the checkpoint loaded from `path` is for (evaluated with
/// `--epochs 0`, else continued) and returns the steps it had taken, for
/// [`common_notes`].
pub fn announce_load(o: &Options, path: &Path, steps: u32) -> u32 {
    let verb = if o.epochs == 0 { "evaluating" } else { "continuing from" };
    println!("{verb} {} ({steps} steps)", path.display());
    steps
}

/// A checkpoint's notes: (key, text) pairs written beside it as JSON.
pub type Notes = Vec<(&'static str, String)>;

/// The notes every job writes beside a checkpoint after its own: the
/// epochs, the seed, the data (by file name: the folder it was read from is
/// of no use on another machine), the kernels that ran, and the checkpoint
/// this run continued from, if any (`continued`: its file name and the
/// steps it had taken).
#[must_use]
pub fn common_notes(o: &Options, continued: Option<u32>) -> Notes {
    let file = |p: &Path| p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned());
    let mut notes = vec![
        ("epochs", o.epochs.to_string()),
        ("seed", o.seed.to_string()),
        ("data", file(&o.data)),
        ("kernels", vicreg::Lanes::Wide.instructions().to_owned()),
    ];
    if let (Some(path), Some(steps)) = (&o.load, continued) {
        notes.push(("continued_from", format!("{} after {steps} steps", file(path))));
    }
    notes
}

/// The line a job prints about its kernels: which instructions the vector
/// primitives run on this machine.
#[must_use]
pub fn kernels_line() -> String {
    let ran = vicreg::Lanes::Wide.instructions();
    let how = if ran == "avx2+fma" { "AVX2 and FMA, found at run time" } else { "the build's own target features" };
    format!("kernels: {ran} ({how})")
}

/// Where a checkpoint's notes go: `CHECKPOINT.json` beside it.
#[must_use]
pub fn notes_path(checkpoint: &Path) -> PathBuf {
    let mut beside = checkpoint.as_os_str().to_owned();
    beside.push(".json");
    PathBuf::from(beside)
}

/// Writes the checkpoint's bytes to `path` and its notes beside it
/// ([`notes_path`]), each whole or not at all.
///
/// # Errors
///
/// The file that could not be written, and why.
pub fn save_checkpoint(path: &Path, (bytes, notes): Saved<'_>) -> Result<(), String> {
    output::replace(path, bytes).map_err(|e| format!("--save {e}"))?;
    println!("checkpoint ({} bytes, with optimiser state): {}", bytes.len(), path.display());
    // Beside it, what a user of the weights needs and the checkpoint cannot
    // say: how to scale the input, how it was trained. The export tools
    // carry it into their metadata.
    let beside = notes_path(path);
    let object: serde_json::Map<String, serde_json::Value> =
        notes.iter().map(|(k, v)| ((*k).to_owned(), serde_json::Value::String(v.clone()))).collect();
    let text = serde_json::to_string_pretty(&object).map_err(|e| e.to_string())?;
    output::replace(&beside, text.as_bytes()).map_err(|e| format!("--save {e}"))?;
    println!("training notes: {}", beside.display());
    Ok(())
}

/// One sample's row in the representations CSV.
pub struct ReprRow<'r> {
    /// Whether the sample is in the training split.
    pub train: bool,
    /// Its class.
    pub label: usize,
    /// Its representation.
    pub repr: &'r [f32],
}

/// What a finished run draws: the loss curves, and the test set's
/// representations before and after training.
pub struct Pictures<'r> {
    /// The chart's title.
    pub title: &'r str,
    /// Four series, one value per epoch: loss, λ·invariance, μ·variance,
    /// ν·covariance (the weighted terms, which add up to the loss).
    pub curves: &'r [Vec<f64>; 4],
    /// The test set's representations (features, label) before training.
    pub before: &'r [(Vec<f32>, usize)],
    /// The same after training.
    pub after: &'r [(Vec<f32>, usize)],
    /// The name of each label.
    pub labels: &'r [&'r str],
}

/// A checkpoint's bytes and the notes written beside it (the input
/// scaling, the optimiser and its settings, the data).
pub type Saved<'s> = (&'s [u8], &'s [(&'static str, String)]);

/// Writes what a finished run leaves behind: the loss curves and the
/// projections, the checkpoint bytes when `--save` asked for them (and
/// beside them, as `CHECKPOINT.json`, the job's notes: the input scaling,
/// the optimiser and its settings), and the representations as CSV
/// (`split,label,y0…`) when `--export-repr` did.
///
/// # Errors
///
/// The file that could not be written, and why.
pub fn write_outputs<'r>(
    o: &Options,
    pictures: &Pictures<'_>,
    checkpoint: Option<Saved<'_>>,
    rows: impl Iterator<Item = ReprRow<'r>>,
) -> Result<(), String> {
    let series: Vec<(&str, &[f64])> = ["loss", "λ·invariance", "μ·variance", "ν·covariance"]
        .into_iter()
        .zip(pictures.curves.iter().map(Vec::as_slice))
        .collect();
    if pictures.curves[0].is_empty() {
        println!("\nno epochs run: no loss curves drawn ({} left as it was)", o.plot.display());
    } else {
        crate::plot::loss_curves(&o.plot, pictures.title, &series)?;
        println!("\nloss curves: {}", o.plot.display());
    }
    let panels = [("before training", pictures.before), ("after training", pictures.after)];
    let title = "test set representations, first two principal components";
    crate::plot::projections(&o.projection, title, &panels, pictures.labels)?;
    println!("projections: {}", o.projection.display());
    if let (Some(path), Some(saved)) = (&o.save, checkpoint) {
        save_checkpoint(path, saved)?;
    }
    if let Some(path) = &o.export_repr {
        let mut csv = String::new();
        for (i, row) in rows.enumerate() {
            if i == 0 {
                csv.push_str("split,label");
                (0..row.repr.len()).for_each(|j| csv.push_str(&format!(",y{j}")));
                csv.push('\n');
            }
            csv.push_str(if row.train { "train," } else { "test," });
            csv.push_str(&row.label.to_string());
            row.repr.iter().for_each(|v| csv.push_str(&format!(",{v}")));
            csv.push('\n');
        }
        output::replace(path, csv.as_bytes()).map_err(|e| format!("--export-repr {e}"))?;
        println!("representations: {}", path.display());
    }
    Ok(())
}

/// A run's progress and loss curves: the mean of each weighted term
/// (ℓ, λ·invariance, μ·variance, ν·covariance, which add up to ℓ) per
/// epoch. On a terminal a bar with the elapsed time and the ETA, redrawn in
/// place; otherwise (a log, CI) a plain line every 25 epochs and at the end.
pub struct Progress {
    bar: Option<indicatif::ProgressBar>,
    epochs: usize,
    start: std::time::Instant,
    steps: u64,
    sums: [f64; 4],
    batches: u32,
    curves: [Vec<f64>; 4],
}

impl Progress {
    /// A run of `epochs` epochs starting now.
    #[must_use]
    pub fn new(epochs: usize) -> Self {
        let bar = std::io::IsTerminal::is_terminal(&std::io::stderr()).then(|| {
            let bar = indicatif::ProgressBar::new(epochs as u64);
            let style = indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] epoch {pos}/{len}, ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
            bar.set_style(style);
            bar
        });
        Self {
            bar,
            epochs,
            start: std::time::Instant::now(),
            steps: 0,
            sums: [0.0; 4],
            batches: 0,
            curves: Default::default(),
        }
    }

    /// Counts one step's loss terms, weighted by `config`'s coefficients.
    pub fn step(&mut self, t: &vicreg::LossTerms, config: &vicreg::Config) {
        let [invariance, variance, covariance] = t.weighted(config);
        for (s, v) in self.sums.iter_mut().zip([t.loss, invariance, variance, covariance]) {
            *s += f64::from(v);
        }
        self.batches += 1;
        self.steps += 1;
    }

    /// Closes an epoch: its means join the curves, and the progress shows.
    pub fn end_epoch(&mut self) {
        for (curve, s) in self.curves.iter_mut().zip(self.sums) {
            curve.push(s / f64::from(self.batches.max(1)));
        }
        (self.sums, self.batches) = ([0.0; 4], 0);
        let epoch = self.curves[0].len();
        let last = |k: usize| self.curves[k].last().copied().unwrap_or(f64::NAN);
        let rate = self.steps as f64 / self.start.elapsed().as_secs_f64();
        let terms = format!(
            "loss {:.3} (λ·invariance {:.3}, μ·variance {:.3}, ν·covariance {:.3})",
            last(0),
            last(1),
            last(2),
            last(3)
        );
        match &self.bar {
            Some(bar) => {
                bar.set_position(epoch as u64);
                bar.set_message(format!("{terms}, {rate:.0} steps/s"));
            }
            None if epoch.is_multiple_of(25) || epoch == self.epochs => {
                eprintln!("epoch {epoch:>4}/{}: {terms}, {rate:.0} steps/s", self.epochs);
            }
            None => {}
        }
    }

    /// The curves, the steps taken and the seconds they took; the bar is
    /// cleared.
    #[must_use]
    pub fn finish(self) -> ([Vec<f64>; 4], u64, f64) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        (self.curves, self.steps, self.start.elapsed().as_secs_f64())
    }
}

/// Prints a finished run's summary line: epochs, steps and speed, and the
/// loss's first and last epoch means with the last epoch's weighted terms.
pub fn summary(epochs: usize, curves: &[Vec<f64>; 4], steps: u64, seconds: f64) {
    if steps > 0 {
        println!("trained {epochs} epochs, {steps} steps in {seconds:.1} s ({:.0} steps/s)", steps as f64 / seconds);
    }
    if let (Some(first), Some(last)) = (curves[0].first(), curves[0].last()) {
        let at = |k: usize| curves[k].last().copied().unwrap_or(f64::NAN);
        println!(
            "loss {first:.3} → {last:.3} (λ·invariance {:.3}, μ·variance {:.3}, ν·covariance {:.3} in the last epoch)",
            at(1),
            at(2),
            at(3)
        );
    }
}
