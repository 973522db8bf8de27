//! Training steps per second: forward, loss, backward and optimiser update of
//! two augmented views, for the digits configuration of the main job and for
//! the firmware configuration (the Cortex-M4F example's network).
//!
//! `cargo bench -p host-tests --bench training`; criterion reports the time
//! per step and, as "elem/s", steps per second.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use host_tests::batches::step_setup;
// Digits: 64 → 128 → 32 encoder, 32 → 64 (BatchNorm) → 64 expander, batch 128, AdamW.
use digits_net::DigitsNet as Digits;
use std::hint::black_box;
use std::time::Duration;
use vicreg::nn::Network;
use vicreg::{AdamW, Optimizer, Sgd, Trainer, TrainerConfig};

// The trainer is boxed by the caller to keep the digits configuration's
// 890 KiB off the stack.
#[allow(clippy::boxed_local)]
fn bench_steps<M: Network<Sample = [f32; IN]>, O: Optimizer, const N: usize, const IN: usize>(
    c: &mut Criterion,
    name: &str,
    mut trainer: Box<Trainer<M, O>>,
) {
    let (mut rng, batch, mut pair, augment) = step_setup::<M, O, N, IN>(&mut trainer);
    let mut group = c.benchmark_group("training_step");
    group.throughput(Throughput::Elements(1));
    group.bench_function(name, |b| {
        b.iter(|| {
            let (va, vb) = pair.generate(&batch, &augment, &mut rng).unwrap();
            black_box(trainer.step(va, vb).unwrap())
        });
    });
    group.finish();
}

fn training(c: &mut Criterion) {
    let digits = Box::new(Trainer::<Digits, AdamW>::new(TrainerConfig::new(1e-3), AdamW::new(0.0)));
    bench_steps::<_, _, 128, 64>(c, "digits", digits);
    let firmware = Box::new(sensor_adapt::Net::new(TrainerConfig::new(1e-2), Sgd::new(0.9, 1e-4)));
    bench_steps::<_, _, 16, 32>(c, "firmware", firmware);
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = training }
criterion_main!(benches);
