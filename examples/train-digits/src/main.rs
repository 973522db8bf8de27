//! Trains the VICReg encoder on the digits data with no labels, then scores
//! the frozen representation with a linear probe, beside raw pixels and the
//! untrained encoder.
//!
//! ```text
//! cargo run --release -p train-digits -- [--epochs 300] [--seed 0] [--lr 1e-3]
//!     [--save CHECKPOINT] [--export-repr CSV] [--plot SVG] [--data CSV]
//! ```

mod data;

use data::Digit;
use linear_probe::job::{self, Notes, Options, PROBE_SEED, ReprRow, Stopped};
use linear_probe::{few_label_accuracy, shuffle};
use std::path::PathBuf;
use std::process::ExitCode;
use vicreg::augment::{Jitter, Mask, Scale, Shift2d, ViewPair};
use vicreg::{AdamW, Pcg32, Trainer, TrainerConfig};

/// The anchor's network and batch (`digits-net`, shared with the
/// WebAssembly module, the tools and the benchmarks).
use digits_net::{BATCH, DigitsNet, REPR};
type Digits = Trainer<DigitsNet, AdamW>;

/// Probe accuracies on one set of features: all labels, then the mean over
/// five draws of 10 and of 5 labelled training images per class.
struct ProbeRow {
    all: f64,
    ten: f64,
    five: f64,
}

fn probe_row(train: &[(Vec<f32>, usize)], test: &[(Vec<f32>, usize)], seed: u64) -> ProbeRow {
    let at = |per_class| few_label_accuracy(train, test, 10, per_class, 5, seed);
    ProbeRow { all: at(None), ten: at(Some(10)), five: at(Some(5)) }
}

fn representations(trainer: &mut Digits, digits: &[Digit]) -> Result<Vec<[f32; REPR]>, vicreg::Error> {
    let x: Vec<[f32; 64]> = digits.iter().map(|d| d.pixels).collect();
    let mut y = vec![[0.0; REPR]; x.len()];
    trainer.represent(&x, &mut y)?;
    Ok(y)
}

fn labelled<const W: usize>(digits: &[Digit], features: &[[f32; W]], train: bool) -> Vec<(Vec<f32>, usize)> {
    digits.iter().zip(features).filter(|(d, _)| d.train == train).map(|(d, f)| (f.to_vec(), d.label)).collect()
}

fn probe_features<const W: usize>(digits: &[Digit], features: &[[f32; W]], seed: u64) -> ProbeRow {
    probe_row(&labelled(digits, features, true), &labelled(digits, features, false), seed)
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The checkpoint's bytes with the optimiser's state, and its notes.
fn checkpoint(trainer: &Digits, args: &Options, continued: Option<u32>) -> Result<(Vec<u8>, Notes), String> {
    let mut bytes = vec![0u8; Digits::checkpoint_bytes(true)];
    trainer.save(&mut bytes, true).map_err(|e| e.to_string())?;
    let mut notes = vec![
        ("input", "64 pixels of an 8×8 image, row-major, each divided by 16 (0–16 → 0–1)".to_owned()),
        ("optimizer", format!("AdamW, peak learning rate {}, weight decay 0, batch {BATCH}", args.lr)),
    ];
    notes.extend(job::common_notes(args, continued));
    Ok((bytes, notes))
}

fn run(args: &Options) -> Result<(), Stopped> {
    let digits = data::load(&args.data)?;
    let loaded = job::read_load(args)?;
    job::check_outputs(args)?;
    let interrupt = job::Interrupt::install()?;
    let train: Vec<[f32; 64]> = digits.iter().filter(|d| d.train).map(|d| d.pixels).collect();
    println!(
        "digits: {} training and {} test images (8×8), labels unused for training",
        train.len(),
        digits.len() - train.len()
    );

    let config = TrainerConfig::new(args.lr);
    let mut trainer: Box<Digits> = Box::new(Trainer::new(config, AdamW::new(0.0)));
    let mut rng = Pcg32::new(args.seed);
    trainer.init(&mut rng);
    let m = Digits::MEMORY;
    println!(
        "network: 64 → 128 → 32 encoder, 32 → 64 BatchNorm ReLU → 64 expander, batch {BATCH}, AdamW lr {}",
        args.lr
    );
    println!(
        "training state (compile-time constant): {} = parameters {} + gradients {} + optimiser {} + activations {} + loss workspace {}",
        kib(m.total),
        kib(m.parameters),
        kib(m.gradients),
        kib(m.optimizer),
        kib(m.activations),
        kib(m.loss_workspace)
    );

    println!("{}", job::kernels_line());

    let untrained = representations(&mut trainer, &digits).map_err(|e| e.to_string())?;
    let mut continued = None;
    if let (Some(bytes), Some(path)) = (&loaded, &args.load) {
        trainer.load(bytes).map_err(|e| format!("--load {}: {e}", path.display()))?;
        continued = Some(job::announce_load(args, path, trainer.steps()));
    }

    let augment = (
        Shift2d { width: 8, height: 8, max_shift: 1 },
        Scale { low: 0.8, high: 1.2 },
        Jitter { sigma: 0.1 },
        Mask { probability: 0.1 },
    );
    let mut pair: Box<ViewPair<BATCH, 64>> = Box::new(ViewPair::new());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut batch = Vec::with_capacity(BATCH);
    let mut progress = job::Progress::new(args.epochs);
    'epochs: for _ in 0..args.epochs {
        shuffle(&mut order, &mut rng);
        for chunk in order.chunks(BATCH) {
            batch.clear();
            batch.extend(chunk.iter().map(|&i| train[i]));
            let (a, b) = pair.generate(&batch, &augment, &mut rng).map_err(|e| e.to_string())?;
            let report = trainer.step(a, b).map_err(|e| job::step_failed(trainer.steps(), &e, args.lr))?;
            progress.step(&report.terms, &trainer.config().loss);
            if interrupt.signal().is_some() {
                break 'epochs;
            }
        }
        progress.end_epoch();
    }
    let (curves, steps, seconds) = progress.finish();
    if let Some(signal) = interrupt.signal() {
        let (bytes, notes) = checkpoint(&trainer, args, continued)?;
        return job::interrupted(args, signal, trainer.steps(), (&bytes, &notes));
    }
    job::summary(args.epochs, &curves, steps, seconds);

    let trained = representations(&mut trainer, &digits).map_err(|e| e.to_string())?;
    let pixels: Vec<[f32; 64]> = digits.iter().map(|d| d.pixels).collect();
    println!(
        "\nlinear probe (logistic regression on standardised features), test accuracy; few-label columns average 5 draws:\n"
    );
    println!("| features | all train labels | 10 labels/class | 5 labels/class |");
    println!("|---|---|---|---|");
    for (name, row) in [
        ("raw pixels (64-d)", probe_features(&digits, &pixels, PROBE_SEED)),
        ("untrained encoder (32-d)", probe_features(&digits, &untrained, PROBE_SEED)),
        ("VICReg-trained encoder (32-d)", probe_features(&digits, &trained, PROBE_SEED)),
    ] {
        println!("| {name} | {:.3} | {:.3} | {:.3} |", row.all, row.ten, row.five);
    }

    let title = format!("VICReg on digits: loss terms per epoch (seed {})", args.seed);
    let (bytes, notes) = checkpoint(&trainer, args, continued)?;
    let rows = digits.iter().zip(&trained).map(|(d, y)| ReprRow { train: d.train, label: d.label, repr: y });
    let (before, after) = (labelled(&digits, &untrained, false), labelled(&digits, &trained, false));
    let labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let pictures = job::Pictures { title: &title, curves: &curves, before: &before, after: &after, labels: &labels };
    job::write_outputs(args, &pictures, Some((&bytes, &notes)), rows)?;
    Ok(())
}

fn main() -> ExitCode {
    let defaults = Options {
        epochs: 300,
        seed: 0,
        lr: 1e-3,
        load: None,
        save: None,
        export_repr: None,
        plot: PathBuf::from("target/digits-loss.svg"),
        projection: PathBuf::from("target/digits-projection.svg"),
        data: data::default_path(),
    };
    job::main(
        (
            "train-digits",
            "Trains a VICReg encoder on the 8×8 digits without labels, then scores its representation with a linear probe",
        ),
        defaults,
        run,
    )
}
