//! The options both training jobs take, checked before any work starts, and
//! their `main`: parse, run, and exit 0, 1 (the run failed) or 2 (the
//! command line is wrong).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// A training job's options.
#[derive(Clone, Debug)]
pub struct Options {
    /// Passes over the training data.
    pub epochs: usize,
    /// Seed of the initial weights, the augmentations and the probe's draws.
    pub seed: u64,
    /// Peak learning rate.
    pub lr: f32,
    /// A checkpoint to start from (evaluated as it is with `--epochs 0`).
    pub load: Option<PathBuf>,
    /// Where to write a checkpoint.
    pub save: Option<PathBuf>,
    /// Where to write the representations as CSV.
    pub export_repr: Option<PathBuf>,
    /// Where to draw the loss curves (SVG).
    pub plot: PathBuf,
    /// The data set.
    pub data: PathBuf,
}

/// One line per option, with its default.
const HELP: &str = "options:
  --epochs N          passes over the training data (default 300)
  --seed S            seed of the weights, the augmentations and the probe's draws (default 0)
  --lr LR             peak learning rate, positive (default 0.001)
  --load CHECKPOINT   continue from a saved checkpoint; with --epochs 0, evaluate it (default: none)
  --save CHECKPOINT   write a checkpoint with the optimiser's state (default: none)
  --export-repr CSV   write every sample's representation as split,label,y0,... (default: none)
  --plot SVG          draw the loss terms per epoch (default: target/<job>-loss.svg)
  --data CSV          the data set (default: the copy in data/)
  -h, --help          print this help
  -V, --version       print the version";

/// The usage line of the job `name`.
#[must_use]
pub fn usage(name: &str) -> String {
    format!(
        "usage: {name} [--epochs N] [--seed S] [--lr LR] [--load CHECKPOINT] [--save CHECKPOINT] [--export-repr CSV] [--plot SVG] [--data CSV]"
    )
}

/// What a command line asks for.
#[derive(Clone, Debug)]
pub enum Request {
    /// A run with these options.
    Run(Options),
    /// Printing this text (`--help`, `--version`) and nothing else.
    Print(String),
}

/// Parses `args` (without the program name) over `defaults`.
///
/// # Errors
///
/// A sentence naming the option at fault: unknown, missing its value,
/// unparsable, or out of range (zero epochs, a learning rate that is not a
/// positive number).
pub fn parse(defaults: Options, args: impl IntoIterator<Item = String>) -> Result<Request, String> {
    let mut o = defaults;
    let mut it = args.into_iter();
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--epochs" => o.epochs = value()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--seed" => o.seed = value()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--lr" => o.lr = value()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--load" => o.load = Some(value()?.into()),
            "--save" => o.save = Some(value()?.into()),
            "--export-repr" => o.export_repr = Some(value()?.into()),
            "--plot" => o.plot = value()?.into(),
            "--data" => o.data = value()?.into(),
            "-h" | "--help" => return Ok(Request::Print(HELP.into())),
            "-V" | "--version" => return Ok(Request::Print(env!("CARGO_PKG_VERSION").into())),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if o.epochs == 0 && o.load.is_none() {
        return Err("--epochs must be at least 1 (0 only evaluates a checkpoint given with --load)".into());
    }
    if !(o.lr.is_finite() && o.lr > 0.0) {
        return Err(format!("--lr {}: the learning rate must be a positive number", o.lr));
    }
    Ok(Request::Run(o))
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

/// Creates (empty) every output file the run will write, so that a path that
/// cannot be written fails before training rather than after it.
///
/// # Errors
///
/// The path that cannot be created, and why.
pub fn create_outputs(o: &Options) -> Result<(), String> {
    let outputs =
        [("--save", o.save.as_deref()), ("--export-repr", o.export_repr.as_deref()), ("--plot", Some(&*o.plot))];
    for (flag, path) in outputs {
        let Some(path) = path else { continue };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if dir.exists() && !dir.is_dir() {
                return Err(format!("{flag} {}: {} is a file, not a folder", path.display(), dir.display()));
            }
            std::fs::create_dir_all(dir)
                .map_err(|e| format!("{flag} {}: cannot create the folder {}: {e}", path.display(), dir.display()))?;
        }
        std::fs::File::create(path).map_err(|e| format!("{flag} {}: cannot create the file: {e}", path.display()))?;
    }
    Ok(())
}

/// A job's `main`: parses the command line over `defaults`, runs `run`, and
/// reports errors under the job's `name`.
pub fn main(name: &str, defaults: Options, run: impl FnOnce(&Options) -> Result<(), String>) -> ExitCode {
    let options = match parse(defaults, std::env::args().skip(1)) {
        Ok(Request::Run(o)) => o,
        Ok(Request::Print(text)) => {
            if text == HELP {
                println!("{}", usage(name));
            }
            println!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("{name}: {e}");
            eprintln!("{}", usage(name));
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: {e}");
            ExitCode::FAILURE
        }
    }
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

/// Writes what a finished run leaves behind: the loss curves (four series:
/// loss, λ·invariance, μ·variance, ν·covariance, one value per epoch), the
/// checkpoint bytes when `--save` asked for them, and the representations as
/// CSV (`split,label,y0…`) when `--export-repr` did.
///
/// # Errors
///
/// The file that could not be written, and why.
pub fn write_outputs<'r>(
    o: &Options,
    title: &str,
    curves: &[Vec<f64>; 4],
    checkpoint: Option<&[u8]>,
    rows: impl Iterator<Item = ReprRow<'r>>,
) -> Result<(), String> {
    let series: Vec<(&str, &[f64])> = ["loss", "λ·invariance", "μ·variance", "ν·covariance"]
        .into_iter()
        .zip(curves.iter().map(Vec::as_slice))
        .collect();
    let write = |path: &Path, bytes: &[u8]| std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()));
    if curves[0].is_empty() {
        println!("\nno epochs run: no loss curves drawn");
    } else {
        write(&o.plot, crate::plot::svg(title, &series).as_bytes())?;
        println!("\nloss curves: {}", o.plot.display());
    }
    if let (Some(path), Some(bytes)) = (&o.save, checkpoint) {
        write(path, bytes)?;
        println!("checkpoint ({} bytes, with optimiser state): {}", bytes.len(), path.display());
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
        write(path, csv.as_bytes())?;
        println!("representations: {}", path.display());
    }
    Ok(())
}
