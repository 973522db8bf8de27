//! Trains a VICReg encoder on the digits data with no labels, then scores
//! the frozen representation with a linear probe, beside raw pixels and the
//! untrained encoder. The default encoder is a small CNN trained on the
//! paper's kind of views (random resized crops with a small rotation,
//! brightness, noise, erasing); `--encoder mlp` trains the PyTorch anchor's
//! MLP on shifted, scaled, jittered and masked pixels.
//!
//! ```text
//! cargo run --release -p train-digits -- [--encoder cnn|mlp] [--epochs N] [--seed 0] [--lr LR]
//!     [--save CHECKPOINT] [--export-repr CSV] [--plot SVG] [--data CSV]
//! ```

mod data;

use data::Digit;
use linear_probe::job::{self, Notes, Options, PROBE_SEED, ReprRow, Stopped};
use linear_probe::{few_label_accuracy, shuffle};
use std::path::PathBuf;
use std::process::ExitCode;
use vicreg::augment::{Augment, ViewPair};
use vicreg::nn::{Buffer, Network};
use vicreg::{AdamW, Pcg32, Schedule, Trainer, TrainerConfig};

/// The two encoders (`digits-net`, shared with the WebAssembly module, the
/// tools and the benchmarks), in batches of [`BATCH`].
use digits_net::{BATCH, DigitsCnn, DigitsNet};

/// What differs between the two encoders' runs.
struct Recipe<A> {
    /// How the network is described in the output.
    network: &'static str,
    /// Its representation's width.
    repr: usize,
    /// The views.
    augment: A,
    /// Epochs of linear warm-up before the cosine decay (0: a constant rate).
    warmup_steps: u32,
    /// AdamW's weight decay.
    weight_decay: f32,
}

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

fn representations<N: Network<Sample = [f32; 64]>>(
    trainer: &mut Trainer<N, AdamW>,
    digits: &[Digit],
) -> Result<Vec<N::Repr>, vicreg::Error> {
    let x: Vec<[f32; 64]> = digits.iter().map(|d| d.pixels).collect();
    let mut y = vec![N::Repr::ZERO; x.len()];
    trainer.represent(&x, &mut y)?;
    Ok(y)
}

fn labelled<F: AsRef<[f32]>>(digits: &[Digit], features: &[F], train: bool) -> Vec<(Vec<f32>, usize)> {
    digits.iter().zip(features).filter(|(d, _)| d.train == train).map(|(d, f)| (f.as_ref().to_vec(), d.label)).collect()
}

fn probe_features<F: AsRef<[f32]>>(digits: &[Digit], features: &[F], seed: u64) -> ProbeRow {
    probe_row(&labelled(digits, features, true), &labelled(digits, features, false), seed)
}

fn kib(bytes: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0)
}

/// The checkpoint's bytes with the optimiser's state, and its notes.
fn checkpoint<N: Network, A>(
    trainer: &Trainer<N, AdamW>,
    recipe: &Recipe<A>,
    args: &Options,
    continued: Option<u32>,
) -> Result<(Vec<u8>, Notes), String> {
    let mut bytes = vec![0u8; Trainer::<N, AdamW>::checkpoint_bytes(true)];
    trainer.save(&mut bytes, true).map_err(|e| e.to_string())?;
    let mut notes = vec![
        ("input", "64 pixels of an 8×8 image, row-major, each divided by 16 (0–16 → 0–1)".to_owned()),
        ("encoder", recipe.network.to_owned()),
        (
            "optimizer",
            format!(
                "AdamW, peak learning rate {}, weight decay {}, {} warm-up steps then cosine, batch {BATCH}",
                args.lr, recipe.weight_decay, recipe.warmup_steps
            ),
        ),
    ];
    notes.extend(job::common_notes(args, continued));
    Ok((bytes, notes))
}

/// Stack of the thread that trains: a trainer is built in place before it
/// is boxed, and without optimisation that place is the stack (the CNN's,
/// at batch 128, is over 10 MiB: more than a main thread's 8).
const TRAINING_STACK: usize = 256 << 20;

fn run(args: &Options) -> Result<(), Stopped> {
    std::thread::scope(|scope| {
        let training = std::thread::Builder::new()
            .stack_size(TRAINING_STACK)
            .spawn_scoped(scope, || choose(args))
            .map_err(|e| Stopped::Failed(format!("cannot start the training thread: {e}")))?;
        training.join().unwrap_or_else(|_| Err(Stopped::Failed("the training thread panicked".to_owned())))
    })
}

fn choose(args: &Options) -> Result<(), Stopped> {
    match args.encoder.as_deref() {
        None | Some("cnn") => train::<DigitsCnn, _>(
            args,
            &Recipe {
                network: "CNN: conv 16, 32 (3×3), max-pool, conv 64, mean over space → 64 encoder; 64 → 256 BatchNorm ReLU → 256 expander",
                repr: digits_net::CNN_REPR,
                augment: digits_net::IMAGE_VIEWS,
                warmup_steps: 100,
                weight_decay: 1e-4,
            },
        ),
        Some("mlp") => train::<DigitsNet, _>(
            args,
            &Recipe {
                network: "MLP: 64 → 128 → 32 encoder, 32 → 64 BatchNorm ReLU → 64 expander",
                repr: digits_net::REPR,
                augment: digits_net::PIXEL_VIEWS,
                warmup_steps: 0,
                weight_decay: 0.0,
            },
        ),
        Some(other) => Err(Stopped::Failed(format!("--encoder {other}: the encoders are cnn and mlp"))),
    }
}

fn train<N: Network<Sample = [f32; 64]>, A: Augment>(args: &Options, recipe: &Recipe<A>) -> Result<(), Stopped> {
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

    let steps_per_epoch = train.len().div_ceil(BATCH);
    let total = u32::try_from(args.epochs.saturating_mul(steps_per_epoch)).unwrap_or(u32::MAX);
    let schedule = if recipe.warmup_steps == 0 {
        Schedule::constant(args.lr)
    } else {
        Schedule { base_lr: args.lr, final_lr: 0.0, warmup_steps: recipe.warmup_steps.min(total), total_steps: total }
    };
    let config = TrainerConfig { schedule, ..TrainerConfig::new(args.lr) };
    let mut trainer: Box<Trainer<N, AdamW>> = Box::new(Trainer::new(config, AdamW::new(recipe.weight_decay)));
    let mut rng = Pcg32::new(args.seed);
    trainer.init(&mut rng);
    let m = Trainer::<N, AdamW>::MEMORY;
    println!("network: {}, batch {BATCH}, AdamW lr {} (weight decay {})", recipe.network, args.lr, recipe.weight_decay);
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

    let mut pair: Box<ViewPair<BATCH, 64>> = Box::new(ViewPair::new());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut batch = Vec::with_capacity(BATCH);
    let mut progress = job::Progress::new(args.epochs);
    'epochs: for _ in 0..args.epochs {
        shuffle(&mut order, &mut rng);
        for chunk in order.chunks(BATCH) {
            batch.clear();
            batch.extend(chunk.iter().map(|&i| train[i]));
            let (a, b) = pair.generate(&batch, &recipe.augment, &mut rng).map_err(|e| e.to_string())?;
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
        let (bytes, notes) = checkpoint(&trainer, recipe, args, continued)?;
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
    let width = recipe.repr;
    for (name, row) in [
        ("raw pixels (64-d)".to_owned(), probe_features(&digits, &pixels, PROBE_SEED)),
        (format!("untrained encoder ({width}-d)"), probe_features(&digits, &untrained, PROBE_SEED)),
        (format!("VICReg-trained encoder ({width}-d)"), probe_features(&digits, &trained, PROBE_SEED)),
    ] {
        println!("| {name} | {:.3} | {:.3} | {:.3} |", row.all, row.ten, row.five);
    }

    let title = format!("VICReg on digits: loss terms per epoch (seed {})", args.seed);
    let (bytes, notes) = checkpoint(&trainer, recipe, args, continued)?;
    let rows = digits.iter().zip(&trained).map(|(d, y)| ReprRow { train: d.train, label: d.label, repr: y.as_ref() });
    let (before, after) = (labelled(&digits, &untrained, false), labelled(&digits, &trained, false));
    let labels = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];
    let pictures = job::Pictures { title: &title, curves: &curves, before: &before, after: &after, labels: &labels };
    job::write_outputs(args, &pictures, Some((&bytes, &notes)), rows)?;
    Ok(())
}

fn main() -> ExitCode {
    let defaults = Options {
        epochs: 100,
        seed: 0,
        lr: 2e-3,
        load: None,
        save: None,
        export_repr: None,
        plot: PathBuf::from("target/digits-loss.svg"),
        projection: PathBuf::from("target/digits-projection.svg"),
        data: data::default_path(),
        encoder: Some(
            "The encoder: cnn (a small CNN on crops, the default) or mlp (the PyTorch anchor's MLP on shifted pixels)"
                .to_owned(),
        ),
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
