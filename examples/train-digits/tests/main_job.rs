//! The README's main command, end to end: trains the CNN on the digits with
//! its crops, and must reach what the same network and views reach with
//! PyTorch (0.986 / 0.972 / 0.972 for seed 0, 0.992 / 0.975 / 0.961 for
//! seed 1, in 200 epochs) to within the goal the crate sets itself: 0.98,
//! 0.96 and 0.95 with all, 10 and 5 labels per class, above raw pixels at
//! every budget. It also writes a checkpoint, the representations and the
//! loss plot. `--encoder mlp` still reaches the MLP's PyTorch anchor
//! (`data/README.md`): 0.906 with all labels and 0.836 with 10 per class.

use std::process::Command;
use vicreg::nn::{Layer, Net, Shape};
use vicreg::{AdamW, Trainer};

struct Row {
    all: f64,
    ten: f64,
    five: f64,
}

fn row(stdout: &str, name: &str) -> Row {
    let line = stdout
        .lines()
        .find(|l| l.starts_with(&format!("| {name}")))
        .unwrap_or_else(|| panic!("no row {name}:\n{stdout}"));
    let v: Vec<f64> = line.split('|').filter_map(|c| c.trim().parse().ok()).collect();
    assert_eq!(v.len(), 3, "{line}");
    Row { all: v[0], ten: v[1], five: v[2] }
}

fn run(seed: u64, extra: &[&str]) -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("train-digits-test-{seed}-{}-{}", extra.len(), std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_train-digits"))
        .args(["--seed", &seed.to_string()])
        .args(extra)
        .arg("--save")
        .arg(dir.join("digits.ckpt"))
        .arg("--export-repr")
        .arg(dir.join("repr.csv"))
        .arg("--plot")
        .arg(dir.join("loss.svg"))
        .arg("--projection")
        .arg(dir.join("projection.svg"))
        .output()
        .expect("the binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    (stdout, dir)
}

/// The first and last epoch means of the loss from the job's summary line.
fn loss_line(stdout: &str) -> (f64, f64) {
    let line = stdout.lines().find(|l| l.starts_with("loss ")).expect("a loss line");
    let mut numbers = line.split(|c: char| !(c.is_ascii_digit() || c == '.')).filter_map(|s| s.parse::<f64>().ok());
    (numbers.next().expect("first"), numbers.next().expect("last"))
}

/// At the trained weights, on a fixed batch of 128 training digits and two
/// fixed views, the gradient the trainer reports against central differences
/// of its own loss along the gradient's direction: ∂ℓ/∂v = ‖g‖ for v = g/‖g‖.
/// A gradient that is wrong where training actually goes (injected: the
/// invariance gradient halved, which still trains a fine encoder, 0.894 with
/// 5 labels per class) fails by
/// far more than the 2 % allowed: 10.67 against 9.18).
fn check_gradient_at(t: &mut Trainer<impl vicreg::nn::Network<Sample = [f32; 64]>, AdamW>, pixels: &[[f32; 64]]) {
    let x_a: Vec<[f32; 64]> = pixels.to_vec();
    let x_b: Vec<[f32; 64]> = pixels.iter().map(|p| core::array::from_fn(|j| p[(j + 1) % 64] * 0.9)).collect();
    t.compute_gradients(&x_a, &x_b).expect("a finite loss");
    let g: Vec<f32> = t.gradients().to_vec();
    let norm = g.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>().sqrt();
    let theta: Vec<f32> = t.parameters().to_vec();
    let loss_at = |t: &mut Trainer<_, AdamW>, h: f64| {
        for ((p, th), gi) in t.parameters_mut().iter_mut().zip(&theta).zip(&g) {
            *p = (f64::from(*th) + h * f64::from(*gi) / norm) as f32;
        }
        f64::from(t.compute_gradients(&x_a, &x_b).expect("finite").loss)
    };
    // The loss curves strongly along g at trained weights (forward and
    // backward differences at h = 0.03 differed by 10 %), so the central
    // difference's h² error was 2.8 % at h = 0.01 and 0.6 % at 0.001, while
    // f32 rounding of a loss near 15 adds about 2e-6 / 2h, 0.02 % here.
    let h = 1e-3;
    let slope = (loss_at(t, h) - loss_at(t, -h)) / (2.0 * h);
    t.parameters_mut().copy_from_slice(&theta);
    assert!((slope - norm).abs() <= 0.02 * norm, "directional derivative {slope} against the reported ‖g‖ {norm}");
}

#[test]
fn the_cnn_on_crops_reaches_its_goal_on_two_seeds() {
    let runs: Vec<_> = [0u64, 1].into_iter().map(|s| std::thread::spawn(move || run(s, &[]))).collect();
    for (seed, handle) in runs.into_iter().enumerate() {
        let (stdout, dir) = handle.join().unwrap();
        let (pixels, untrained, trained) =
            (row(&stdout, "raw pixels"), row(&stdout, "untrained encoder"), row(&stdout, "VICReg-trained encoder"));
        // The probe itself: raw pixels near the anchor's 0.942.
        assert!(pixels.all > 0.93, "seed {seed}: raw-pixel probe {:.3}", pixels.all);
        // The goal, and above raw pixels and the untrained encoder at every
        // budget.
        assert!(
            trained.all >= 0.98 && trained.ten >= 0.96 && trained.five >= 0.95,
            "seed {seed}: {:.3} / {:.3} / {:.3}\n{stdout}",
            trained.all,
            trained.ten,
            trained.five
        );
        for (name, other) in [("raw pixels", &pixels), ("the untrained encoder", &untrained)] {
            assert!(
                trained.all > other.all && trained.ten > other.ten && trained.five > other.five,
                "seed {seed}: not above {name}\n{stdout}"
            );
        }
        // The loss falls: the last epoch's mean at most 80 % of the first's.
        let (first, last) = loss_line(&stdout);
        assert!(last <= 0.8 * first, "seed {seed}: loss {first} → {last}");
        // The README's table is this run's (seed 0), where the kernels are
        // those that made it; elsewhere the goal above stands for it.
        if seed == 0 {
            use linear_probe::readme;
            let _ = readme::check("train-digits", &readme::kernels(&stdout), &readme::table(&stdout));
        }

        // The artefacts: a checkpoint the same configuration loads, one
        // representation row per image, and a plot.
        // The job's network, declared again: a checkpoint of any other is refused.
        const CNN: Net = Net::new(
            Shape::Image { channels: 1, height: 8, width: 8 },
            &[
                Layer::conv2d(16, [3, 3]).padding(1),
                Layer::BatchNorm,
                Layer::ReLU,
                Layer::conv2d(32, [3, 3]).padding(1),
                Layer::BatchNorm,
                Layer::ReLU,
                Layer::max_pool2d([2, 2]),
                Layer::conv2d(64, [3, 3]).padding(1),
                Layer::BatchNorm,
                Layer::ReLU,
                Layer::MeanSpace,
                Layer::linear(64),
            ],
            &[Layer::linear(256), Layer::BatchNorm, Layer::ReLU, Layer::linear(256).without_bias()],
        );
        vicreg::network!(DigitsCnn = CNN, batch 128);
        type Digits = Trainer<DigitsCnn, AdamW>;
        // The trainer is built on the stack before it is boxed: over 10 MiB
        // without optimisation, so this part runs on a thread with room.
        let checkpoint = dir.join("digits.ckpt");
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || {
                let bytes = std::fs::read(&checkpoint).unwrap();
                let mut t: Box<Digits> = Box::new(Trainer::new(vicreg::TrainerConfig::new(1e-3), AdamW::new(0.0)));
                t.load(&bytes).expect("the saved checkpoint loads");
                assert_eq!(t.steps(), 100 * 12);
                let digits =
                    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv")).unwrap();
                let pixels: Vec<[f32; 64]> = digits
                    .lines()
                    .skip(1)
                    .filter(|l| l.starts_with("train,"))
                    .take(128)
                    .map(|l| {
                        let v: Vec<f32> = l.split(',').skip(2).map(|p| p.parse::<f32>().unwrap() / 16.0).collect();
                        core::array::from_fn(|j| v[j])
                    })
                    .collect();
                check_gradient_at(&mut t, &pixels);
            })
            .unwrap()
            .join()
            .unwrap();
        // The saved checkpoint, evaluated again by the job itself, gives the
        // same table row.
        let again = Command::new(env!("CARGO_BIN_EXE_train-digits"))
            .args(["--seed", &seed.to_string(), "--epochs", "0", "--load"])
            .arg(dir.join("digits.ckpt"))
            .arg("--plot")
            .arg(dir.join("unused.svg"))
            .output()
            .expect("the binary runs");
        let stdout_again = String::from_utf8_lossy(&again.stdout).into_owned();
        assert!(again.status.success(), "{stdout_again}");
        let reloaded = row(&stdout_again, "VICReg-trained encoder");
        assert_eq!((reloaded.all, reloaded.ten, reloaded.five), (trained.all, trained.ten, trained.five));
        let csv = std::fs::read_to_string(dir.join("repr.csv")).unwrap();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 1 + 1797);
        assert!(lines[1..].iter().all(|l| l.split(',').count() == 2 + 64));
        // The loss chart: an epoch axis and a legend of the four weighted terms;
        // the projection: both panels, principal-component axes, ten labels.
        let texts = |file: &str| -> Vec<String> {
            let svg = std::fs::read_to_string(dir.join(file)).unwrap();
            assert!(svg.starts_with("<svg"), "{file} is not an SVG");
            svg.split("<text")
                .skip(1)
                .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_owned()))
                .collect()
        };
        let loss = texts("loss.svg");
        for name in ["epoch", "loss", "λ·invariance", "μ·variance", "ν·covariance", "10.0"] {
            assert!(loss.iter().any(|t| t == name), "the loss chart has no text {name}");
        }
        // Beside the checkpoint, the input scaling a user of the weights needs.
        let notes = std::fs::read_to_string(dir.join("digits.ckpt.json")).unwrap();
        assert!(notes.contains("divided by 16") && notes.contains("AdamW"), "{notes}");
        let projection = texts("projection.svg");
        for name in ["before training", "after training", "principal component 1", "0", "9"] {
            assert!(projection.iter().any(|t| t == name), "the projection has no text {name}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}

#[test]
fn the_mlp_still_reaches_its_pytorch_anchor() {
    let (stdout, dir) = run(0, &["--encoder", "mlp", "--epochs", "300", "--lr", "1e-3"]);
    let (untrained, trained) = (row(&stdout, "untrained encoder"), row(&stdout, "VICReg-trained encoder"));
    assert!(trained.all >= 0.906 && trained.ten >= 0.836, "{:.3} / {:.3}", trained.all, trained.ten);
    // With few labels the improvement must be a margin, not noise: PyTorch's
    // run gains 0.11–0.13 at 5 and 10 labels per class. (Injected: a zeroed
    // covariance gradient fails here.)
    assert!(trained.ten >= untrained.ten + 0.06 && trained.five >= untrained.five + 0.08, "{stdout}");
    assert!(stdout.contains("MLP: 64 → 128 → 32 encoder"), "{stdout}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn an_unknown_encoder_is_refused_before_any_work() {
    let out = Command::new(env!("CARGO_BIN_EXE_train-digits")).args(["--encoder", "resnet"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("the encoders are cnn and mlp"), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).is_empty());
}
