//! The speed table of `BENCHMARKS.md`: loss and gradients at the benchmark
//! shapes, the covariance product's rate against the machine's measured
//! f32 FMA peak, and the three training steps; medians of repeated runs on one
//! thread. Run it in both builds:
//!
//! ```sh
//! cargo run --release -p vicreg-tools --bin speed
//! CARGO_TARGET_DIR=target/native RUSTFLAGS="-C target-cpu=native" \
//!     cargo run --release -p vicreg-tools --bin speed
//! ```
//!
//! `speed N D` times one loss shape; `speed products` the large products
//! alone; `speed steps` the training steps only,
//! `speed digits` the digits steps only, `speed motions` the sensor job's
//! step (for a profiler: `perf record`).
//! `scripts/torch-speed.py` times the same cases in PyTorch where it is
//! installed.

use std::hint::black_box;
use std::time::{Duration, Instant};
use vicreg_tools::batches::{step_setup, view_pair};
// The digits job's networks, batch 128: the MLP and the CNN.
use digits_net::{DigitsCnn, DigitsNet as Digits};
// The sensor job's Conv1d network, batch 20.
use motion_adapt::motion::Motion;
use vicreg::nn::Network;
use vicreg::{AdamW, Config, Lanes, Optimizer, Options, Sgd, Trainer, TrainerConfig, Views, kernels};

/// The loss shapes (n, d).
const SHAPES: [(usize, usize); 5] = [(32, 32), (128, 128), (256, 256), (256, 1024), (1024, 2048)];

/// Median seconds per call of `f`, over runs of at least `budget` in all.
fn median_time(budget: Duration, mut f: impl FnMut()) -> f64 {
    f();
    let once = {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64().max(1e-9)
    };
    // Batches of calls long enough to time (about a millisecond), 15 of them
    // or as many as fit the budget, at least 3.
    let per_batch = ((1e-3 / once).ceil() as usize).max(1);
    let batches = ((budget.as_secs_f64() / (once * per_batch as f64)) as usize).clamp(3, 15);
    let mut times: Vec<f64> = (0..batches)
        .map(|_| {
            let t = Instant::now();
            for _ in 0..per_batch {
                f();
            }
            t.elapsed().as_secs_f64() / per_batch as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// One core's f32 FMA rate in GFLOP/s: ten independent chains of 8-lane
/// fused multiply-adds (enough to cover the FMA units' latency), where the
/// CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
fn fma_peak() -> Option<f64> {
    use std::arch::x86_64::{__m256, _mm256_fmadd_ps, _mm256_set1_ps, _mm256_storeu_ps};
    #[target_feature(enable = "avx2,fma")]
    fn chains(iterations: usize) -> f32 {
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        let mut acc: [__m256; 10] = [_mm256_set1_ps(1.0); 10];
        for _ in 0..iterations {
            for x in &mut acc {
                *x = _mm256_fmadd_ps(*x, a, b);
            }
        }
        let mut out = [0.0f32; 8];
        let mut sum = 0.0;
        for x in acc {
            // SAFETY: `out` is 8 writable f32; storeu needs no alignment.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr(), x) };
            sum += out.iter().sum::<f32>();
        }
        sum
    }
    if !(is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma")) {
        return None;
    }
    let iterations = 20_000_000;
    // SAFETY: the CPU has AVX2 and FMA, checked just above.
    let seconds = median_time(Duration::from_secs(2), || {
        black_box(unsafe { chains(black_box(iterations)) });
    });
    Some((iterations * 10 * 8 * 2) as f64 / seconds / 1e9)
}

#[cfg(not(target_arch = "x86_64"))]
fn fma_peak() -> Option<f64> {
    None
}

/// Seconds per training step on a fixed pair of augmented views.
#[allow(clippy::boxed_local)] // boxed by the caller: the digits state is 890 KiB
fn step_time<M: Network<Sample = [f32; IN]>, O: Optimizer, const N: usize, const IN: usize>(
    mut trainer: Box<Trainer<M, O>>,
) -> f64 {
    let (mut rng, batch, mut pair, augment) = step_setup::<M, O, N, IN>(&mut trainer);
    let (va, vb) = pair.generate(&batch, &augment, &mut rng).expect("views");
    let (va, vb) = (va.to_vec(), vb.to_vec());
    median_time(Duration::from_secs(2), || {
        black_box(trainer.step(&va, &vb).expect("step"));
    })
}

/// The loss's three large products alone at the two large shapes, in
/// GFLOP/s, a multiply-add counted as two flops and only those the result
/// needs (the upper triangle of the symmetric ones; the tiles that cross
/// the diagonal do a little more): the feature side's Zᵀ·Z (n·d·(d + 1),
/// with the scaling and mirroring `covariance_matrix` includes), the batch
/// side's K = Z·Zᵀ (n·(n + 1)·d) and its gradient's K·Z (2·n²·d).
fn products() {
    println!("\n| products at (n, d) | Zᵀ·Z | K = Z·Zᵀ | K·Z |");
    println!("|---|---|---|---|");
    for (n, d) in [(256, 1024), (1024, 2048)] {
        let (z, _) = view_pair(n, d, 11);
        let k_values: Vec<f32> = (0..n * n).map(|i| (i % 97) as f32 / 97.0 - 0.5).collect();
        let (mut c, mut k, mut out) = (vec![0.0; d * d], vec![0.0; n * n], vec![0.0; n * d]);
        let budget = Duration::from_secs(if n * d * d > 1 << 28 { 6 } else { 2 });
        let rate = |flops: usize, seconds: f64| flops as f64 / seconds / 1e9;
        let feature = median_time(budget, || {
            black_box(kernels::covariance_matrix(Lanes::Wide, &z, d, &mut c)).expect("covariance");
        });
        let gram = median_time(budget, || kernels::gram_matrix(Lanes::Wide, &z, d, &mut k).expect("gram"));
        let gradient = median_time(budget, || {
            kernels::matrix_product(Lanes::Wide, 0.5, &k_values, n, &z, &mut out).expect("product");
        });
        println!(
            "| ({n}, {d}) | {:.1} | {:.1} | {:.1} |",
            rate(n * d * (d + 1), feature),
            rate(n * (n + 1) * d, gram),
            rate(2 * n * n * d, gradient)
        );
    }
}

/// What to time: everything, one loss shape, or the training steps (for a
/// profiler: `speed steps`, or `speed digits` for the digits step alone);
/// or `speed count N` (`count cnn N`, `count motions N`): exactly N steps
/// of the digits MLP (the CNN, the sensor job's network), untimed, so that
/// two runs under `valgrind --tool=callgrind` (N = 10 and 20, say) differ
/// by exactly ten steps' instructions, a figure the machine's load cannot
/// move, and so that `perf record` sees steps and little else.
enum Mode {
    All,
    Shape(usize, usize),
    Products,
    Steps { small: bool },
    Motions,
    Count(Counted, usize),
}

/// The networks `speed count` runs.
#[derive(Clone, Copy)]
enum Counted {
    Digits,
    Cnn,
    Motions,
}

/// N untimed steps of `M` on one fixed pair of views.
fn count<M: Network<Sample = [f32; IN]>, const N: usize, const IN: usize>(
    config: TrainerConfig,
    optimizer: AdamW,
    steps: usize,
) {
    let mut trainer = Box::new(Trainer::<M, AdamW>::new(config, optimizer));
    let (mut rng, batch, mut pair, augment) = step_setup::<M, AdamW, N, IN>(&mut trainer);
    let (va, vb) = pair.generate(&batch, &augment, &mut rng).expect("views");
    for _ in 0..steps {
        black_box(trainer.step(va, vb).expect("step"));
    }
}

fn mode() -> Mode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        ["steps"] => Mode::Steps { small: true },
        ["products"] => Mode::Products,
        ["digits"] => Mode::Steps { small: false },
        ["motions"] => Mode::Motions,
        ["count", steps] => steps.parse().map_or(Mode::All, |n| Mode::Count(Counted::Digits, n)),
        ["count", "cnn", steps] => steps.parse().map_or(Mode::All, |n| Mode::Count(Counted::Cnn, n)),
        ["count", "motions", steps] => steps.parse().map_or(Mode::All, |n| Mode::Count(Counted::Motions, n)),
        [n, d] => match (n.parse(), d.parse()) {
            (Ok(n), Ok(d)) => Mode::Shape(n, d),
            _ => Mode::All,
        },
        _ => Mode::All,
    }
}

fn main() {
    let mode = mode();
    if let Mode::Count(network, steps) = mode {
        match network {
            Counted::Digits => count::<Digits, 128, 64>(TrainerConfig::new(1e-3), AdamW::new(0.0), steps),
            Counted::Cnn => count::<DigitsCnn, 128, 64>(TrainerConfig::new(2e-3), AdamW::new(1e-4), steps),
            Counted::Motions => count::<Motion, 20, 576>(TrainerConfig::new(1e-3), AdamW::new(0.0), steps),
        }
        println!("{steps} steps");
        return;
    }
    let build = if cfg!(target_feature = "avx2") { "native (AVX2 at compile time)" } else { "default target" };
    println!("build: {build}; kernels: {}; one thread", Lanes::Wide.instructions());
    if matches!(mode, Mode::All) {
        match fma_peak() {
            Some(peak) => println!("f32 FMA peak of one core (8 lanes, 10 chains): {peak:.1} GFLOP/s"),
            None => println!("f32 FMA peak: no AVX2/FMA on this CPU"),
        }
    }
    if !matches!(mode, Mode::Products) {
        println!("\n| case | µs | covariance product Z_cᵀZ_c, GFLOP/s |");
        println!("|---|---|---|");
    }
    let one = [match mode {
        Mode::Shape(n, d) => (n, d),
        _ => (0, 0),
    }];
    let shapes = match mode {
        Mode::All => &SHAPES[..],
        Mode::Shape(..) => &one[..],
        Mode::Steps { .. } | Mode::Motions | Mode::Count(..) | Mode::Products => &[][..],
    };
    for &(n, d) in shapes {
        let (a, b) = view_pair(n, d, 7);
        let views = Views::new(&a, &b, d).expect("views");
        let options = Options::default();
        let mut scratch = vec![0.0; vicreg::scratch_len(n, d, options.side)];
        let (mut ga, mut gb) = (vec![0.0; n * d], vec![0.0; n * d]);
        let budget = Duration::from_secs(if n * d * d > 1 << 28 { 8 } else { 2 });
        let loss = median_time(budget, || {
            black_box(vicreg::loss_and_gradients(views, &Config::DEFAULT, options, &mut scratch, &mut ga, &mut gb))
                .expect("loss");
        });
        // The upper triangle of a d×d product over n rows: n·d·(d + 1) flops.
        let mut c = vec![0.0; d * d];
        let product = median_time(budget, || {
            black_box(kernels::covariance_matrix(Lanes::Wide, &a, d, &mut c)).expect("product");
        });
        let rate = (n * d * (d + 1)) as f64 / product / 1e9;
        println!("| loss+grad ({n}, {d}) | {:.1} | {rate:.1} |", loss * 1e6);
    }
    if matches!(mode, Mode::Shape(..)) {
        return;
    }
    if !matches!(mode, Mode::Motions) {
        products();
    }
    if matches!(mode, Mode::Products) {
        return;
    }
    if !matches!(mode, Mode::Motions) {
        let digits = step_time::<_, _, 128, 64>(Box::new(Trainer::<Digits, AdamW>::new(
            TrainerConfig::new(1e-3),
            AdamW::new(0.0),
        )));
        println!("| digits training step (batch 128, AdamW) | {:.1} | |", digits * 1e6);
        let cnn = step_time::<_, _, 128, 64>(Box::new(Trainer::<DigitsCnn, AdamW>::new(
            TrainerConfig::new(2e-3),
            AdamW::new(1e-4),
        )));
        println!("| digits CNN training step (batch 128, AdamW) | {:.1} | |", cnn * 1e6);
    }
    if matches!(mode, Mode::Steps { small: false }) {
        return;
    }
    let motions =
        step_time::<_, _, 20, 576>(Box::new(Trainer::<Motion, AdamW>::new(TrainerConfig::new(1e-3), AdamW::new(0.0))));
    println!("| motions training step (batch 20, AdamW) | {:.1} | |", motions * 1e6);
    if matches!(mode, Mode::Motions) {
        return;
    }
    let small =
        step_time::<_, _, 16, 32>(Box::new(sensor_adapt::Net::new(TrainerConfig::new(1e-2), Sgd::new(0.9, 1e-4))));
    println!("| small training step (batch 16, SGD) | {:.1} | |", small * 1e6);
}
