//! The digits configuration's gradients at an effective batch of 1024:
//! the full batch in one pass (one thread), the same batch streamed in
//! micro-batches of 128 (one thread), and the data-parallel streamed step
//! on 1 and 2 threads (`vicreg::nn::parallel_gradients`).
//!
//! `cargo bench -p host-tests --bench parallel`; the speed-up is the ratio of
//! the one-thread to the two-thread time, the parallel efficiency that
//! ratio over the number of threads.

use criterion::{Criterion, criterion_group, criterion_main};
use host_tests::batches::SplitMix;
use std::hint::black_box;
// Digits: 64 → 128 → 32 encoder, 32 → 64 (BatchNorm) → 64 expander.
use digits_net::DIGITS;
use std::time::Duration;
use vicreg::Pcg32;
use vicreg::nn::{AllKinds, Pass, Place, Siamese, Stream, parallel_gradients};

const N: usize = 1024;
const MICRO: usize = 128;

fn parallel(c: &mut Criterion) {
    let mut data = SplitMix::new(5);
    let x_a: Vec<f32> = (0..N * 64).map(|_| data.symmetric()).collect();
    let x_b: Vec<f32> = x_a.iter().map(|x| x + 0.1 * data.symmetric()).collect();
    let pass = Pass::default();

    let mut places = vec![Place::EMPTY; DIGITS.depth()];
    let full = Siamese::<AllKinds>::new(&DIGITS, N, &mut places).expect("a network");
    let sizes = full.layout().sizes;
    let (mut params, mut running) = (vec![0.0; sizes.parameters], vec![0.0; sizes.running]);
    full.init(&mut params, &mut running, &mut Pcg32::new(1)).expect("sizes");
    let mut grads = vec![0.0; sizes.parameters];

    let mut group = c.benchmark_group("digits_batch_1024");
    let mut workspace = vec![0.0; sizes.workspace];
    group.bench_function("full batch, 1 thread", |b| {
        b.iter(|| black_box(full.compute_gradients(&pass, &params, &mut grads, &mut workspace, &x_a, &x_b).unwrap()));
    });

    let mut micro_places = vec![Place::EMPTY; DIGITS.depth()];
    let micro = Siamese::<AllKinds>::new(&DIGITS, MICRO, &mut micro_places).expect("a network");
    let fill = |first: usize, a: &mut [f32], b: &mut [f32]| {
        a.copy_from_slice(&x_a[first * 64..first * 64 + a.len()]);
        b.copy_from_slice(&x_b[first * 64..first * 64 + b.len()]);
    };
    let mut state = vec![0.0; micro.layout().sizes.stream_state()];
    let mut stream = Stream::new(&micro, &mut state).expect("a state");
    let mut stream_ws = vec![0.0; micro.layout().sizes.workspace];
    let (mut in_a, mut in_b) = (vec![0.0; MICRO * 64], vec![0.0; MICRO * 64]);
    group.bench_function("streamed, 1 thread", |b| {
        b.iter(|| {
            let inputs = (&mut in_a[..], &mut in_b[..]);
            black_box(stream.gradients(&pass, &params, &mut grads, &mut stream_ws, inputs, N, fill).unwrap())
        });
    });
    for threads in [1, 2] {
        group.bench_function(format!("parallel_gradients, {threads} threads"), |b| {
            b.iter(|| black_box(parallel_gradients(&micro, &pass, &params, &mut grads, N, threads, fill).unwrap()));
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! { name = benches; config = config(); targets = parallel }
criterion_main!(benches);
