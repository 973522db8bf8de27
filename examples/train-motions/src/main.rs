//! Trains a Conv1d VICReg encoder on the unlabelled training recordings of
//! BasicMotions (a smartwatch's accelerometer and gyroscope), then scores
//! the frozen representation with a linear probe given 1, 2, 5 and all
//! labels per class, beside raw samples and the untrained encoder.
//!
//! ```text
//! cargo run --release -p train-motions -- [--epochs 300] [--seed 0] [--lr 1e-3]
//!     [--save CHECKPOINT] [--export-repr CSV] [--plot SVG] [--data CSV]
//! ```

use train_motions::{Motions, Tick, data};

use data::{CLASSES, Recording};
use linear_probe::few_label_accuracy;
use linear_probe::job::{self, Notes, Options, PROBE_SEED, ReprRow, Stopped};
use motion_adapt::motion::{BATCH, REPR};
use motion_adapt::views::{self, INPUT};
use std::path::PathBuf;
use std::process::ExitCode;
use vicreg::Pcg32;

/// The representation of every recording's centre window.
fn representations(trainer: &mut Motions, recordings: &[Recording]) -> Result<Vec<Vec<f32>>, String> {
    let x: Vec<[f32; INPUT]> = recordings.iter().map(|r| views::centre(&r.samples)).collect();
    let mut y = vec![[0.0; REPR]; x.len()];
    trainer.represent(&x, &mut y).map_err(|e| e.to_string())?;
    Ok(y.into_iter().map(|r| r.to_vec()).collect())
}

/// Probe accuracies with 1, 2, 5 and all labels per class (the few-label
/// columns average 10 draws of the labelled recordings).
fn probe_row(recordings: &[Recording], features: &[Vec<f32>], seed: u64) -> [f64; 4] {
    let split = |train: bool| -> Vec<(Vec<f32>, usize)> {
        recordings.iter().zip(features).filter(|(r, _)| r.train == train).map(|(r, f)| (f.clone(), r.label)).collect()
    };
    let (train, test) = (split(true), split(false));
    [Some(1), Some(2), Some(5), None].map(|k| few_label_accuracy(&train, &test, CLASSES, k, 10, seed))
}

/// The checkpoint's bytes with the optimiser's state, and its notes.
fn checkpoint(
    trainer: &Motions,
    args: &Options,
    scaling: &[data::Scaling],
    continued: Option<u32>,
) -> Result<(Vec<u8>, Notes), String> {
    let mut bytes = vec![0u8; Motions::checkpoint_bytes(true)];
    trainer.save(&mut bytes, true).map_err(|e| e.to_string())?;
    let list = |k: usize| scaling.iter().map(|s| format!("{:.6}", if k == 0 { s.0 } else { s.1 })).collect::<Vec<_>>();
    let mut notes = vec![
        (
            "input",
            format!(
                "6 channels × 96 samples (a window of a recording), channel-major; each channel c as (x − mean[c]) / std[c] with mean [{}] and std [{}] (the training split's)",
                list(0).join(", "),
                list(1).join(", ")
            ),
        ),
        (
            "optimizer",
            format!(
                "AdamW, peak learning rate {} (warm-up 20 steps, cosine to a hundredth), weight decay 0, batch {BATCH}",
                args.lr
            ),
        ),
    ];
    notes.extend(job::common_notes(args, continued));
    Ok((bytes, notes))
}

fn run(args: &Options) -> Result<(), Stopped> {
    if let Some(encoder) = &args.encoder {
        return Err(Stopped::Failed(format!("--encoder {encoder}: this job trains one encoder, the Conv1d one")));
    }
    let (recordings, scaling) = data::load_with_scaling(&args.data)?;
    let loaded = job::read_load(args)?;
    job::check_outputs(args)?;
    let interrupt = job::Interrupt::install()?;
    let train: Vec<&Recording> = recordings.iter().filter(|r| r.train).collect();
    println!(
        "basicmotions: {} training and {} test recordings (6 channels × 100 samples), labels unused for training",
        train.len(),
        recordings.len() - train.len()
    );
    let mut trainer = train_motions::trainer(args.lr, args.epochs, train.len());
    let mut rng = Pcg32::new(args.seed);
    trainer.init(&mut rng);
    println!(
        "network: Conv1d 6→16 (k5) BN ReLU → 32 (k5 s2) BN ReLU → 32 (k3 s2) ReLU → mean over time → 32; expander 32→64 BN ReLU →64; batch {BATCH}, AdamW lr {}; training state {:.1} KiB",
        args.lr,
        Motions::MEMORY_BYTES as f64 / 1024.0
    );
    println!("{}", job::kernels_line());
    let untrained = representations(&mut trainer, &recordings)?;
    let mut continued = None;
    if let (Some(bytes), Some(path)) = (&loaded, &args.load) {
        trainer.load(bytes).map_err(|e| format!("--load {}: {e}", path.display()))?;
        continued = Some(job::announce_load(args, path, trainer.steps()));
    }

    let mut progress = job::Progress::new(args.epochs);
    let trainer_loss = trainer.config().loss;
    train_motions::train(&mut trainer, &train, args.epochs, &mut rng, |tick| {
        match tick {
            Tick::Step(report) => progress.step(&report.terms, &trainer_loss),
            Tick::Epoch => progress.end_epoch(),
        }
        interrupt.signal().is_none()
    })
    .map_err(|(step, e)| job::step_failed(step, &e, args.lr))?;
    let (curves, steps, seconds) = progress.finish();
    if let Some(signal) = interrupt.signal() {
        let (bytes, notes) = checkpoint(&trainer, args, &scaling, continued)?;
        return job::interrupted(args, signal, trainer.steps(), (&bytes, &notes));
    }
    job::summary(args.epochs, &curves, steps, seconds);

    let trained = representations(&mut trainer, &recordings)?;
    let raw: Vec<Vec<f32>> = recordings.iter().map(|r| views::centre(&r.samples).to_vec()).collect();
    println!(
        "\nlinear probe (logistic regression on standardised features of the centre window), test accuracy on 40 recordings; few-label columns average 10 draws:\n"
    );
    println!("| features | 1 label/class | 2 labels/class | 5 labels/class | all 40 labels |");
    println!("|---|---|---|---|---|");
    for (name, features) in [
        ("raw samples (6×96)", &raw),
        ("untrained encoder (32-d)", &untrained),
        ("VICReg-trained encoder (32-d)", &trained),
    ] {
        let [one, two, five, all] = probe_row(&recordings, features, PROBE_SEED);
        println!("| {name} | {one:.3} | {two:.3} | {five:.3} | {all:.3} |");
    }

    let title = format!("VICReg on BasicMotions: loss terms per epoch (seed {})", args.seed);
    let (bytes, notes) = checkpoint(&trainer, args, &scaling, continued)?;
    let rows = recordings.iter().zip(&trained).map(|(r, y)| ReprRow { train: r.train, label: r.label, repr: y });
    let test = |features: &[Vec<f32>]| -> Vec<(Vec<f32>, usize)> {
        recordings.iter().zip(features).filter(|(r, _)| !r.train).map(|(r, f)| (f.clone(), r.label)).collect()
    };
    let (before, after) = (test(&untrained), test(&trained));
    let labels = ["Standing", "Walking", "Running", "Badminton"];
    let pictures = job::Pictures { title: &title, curves: &curves, before: &before, after: &after, labels: &labels };
    job::write_outputs(args, &pictures, Some((&bytes, &notes)), rows)?;
    Ok(())
}

fn main() -> ExitCode {
    let defaults = Options {
        epochs: train_motions::EPOCHS,
        seed: train_motions::SEED,
        lr: train_motions::LR,
        load: None,
        save: None,
        export_repr: None,
        plot: PathBuf::from("target/motions-loss.svg"),
        projection: PathBuf::from("target/motions-projection.svg"),
        data: data::default_path(),
        encoder: None,
    };
    job::main(
        (
            "train-motions",
            "Trains a Conv1d VICReg encoder on BasicMotions smartwatch windows without labels, then scores its representation with a linear probe",
        ),
        defaults,
        run,
    )
}
