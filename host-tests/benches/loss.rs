//! Loss (+ gradients) and the covariance accumulation at the shapes of the
//! benchmark table, scalar vs SIMD vs automatic, beside `matrixmultiply`'s
//! sgemm computing the same Z_cᵀZ_c.
//!
//! Throughput is printed as "elem/s" where one element is one floating-point
//! operation of the covariance accumulation counted as a dense product,
//! 2·n·d² per branch (so a kernel that exploits symmetry or picks the n×n
//! Gram side shows the same work done in less time, as a higher rate).
//!
//! `cargo bench -p host-tests --bench loss` (portable), and with
//! `RUSTFLAGS="-C target-cpu=native"` for the native build.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use host_tests::batches::view_pair;
use std::hint::black_box;
use std::time::Duration;
use vicreg::{Config, CovarianceSide, Lanes, Options, Views, kernels};

const SHAPES: [(usize, usize); 6] = [(32, 32), (64, 64), (128, 128), (256, 256), (256, 1024), (32, 512)];

fn variants() -> [(&'static str, Options); 5] {
    use CovarianceSide::{Auto, BatchSide, FeatureSide};
    let o = |side, lanes| Options { side, lanes };
    [
        ("auto", o(Auto, Lanes::Wide)),
        ("feature-scalar", o(FeatureSide, Lanes::Scalar)),
        ("feature-wide", o(FeatureSide, Lanes::Wide)),
        ("batch-scalar", o(BatchSide, Lanes::Scalar)),
        ("batch-wide", o(BatchSide, Lanes::Wide)),
    ]
}

fn flops(n: usize, d: usize) -> u64 {
    2 * (n * d * d) as u64
}

fn loss_benches(c: &mut Criterion) {
    for gradients in [true, false] {
        let mut group = c.benchmark_group(if gradients { "loss_and_gradients" } else { "loss_only" });
        for (n, d) in SHAPES {
            let (a, b) = view_pair(n, d, 7);
            let views = Views::new(&a, &b, d).unwrap();
            let (mut ga, mut gb) = (vec![0.0; n * d], vec![0.0; n * d]);
            group.throughput(Throughput::Elements(2 * flops(n, d)));
            for (name, options) in variants() {
                let mut scratch = vec![0.0; vicreg::scratch_len(n, d, options.side)];
                let id = BenchmarkId::new(name, format!("n{n}_d{d}"));
                group.bench_function(id, |bench| {
                    bench.iter(|| {
                        let terms = if gradients {
                            vicreg::loss_and_gradients(views, &Config::DEFAULT, options, &mut scratch, &mut ga, &mut gb)
                        } else {
                            vicreg::loss(views, &Config::DEFAULT, options, &mut scratch)
                        };
                        black_box(terms.unwrap())
                    });
                });
            }
        }
        group.finish();
    }
}

fn accumulation_benches(c: &mut Criterion) {
    let mut group = c.benchmark_group("covariance_accumulation");
    for (n, d) in SHAPES {
        let (z, _) = view_pair(n, d, 11);
        let (mut zc, mut mean, mut ws) = (vec![0.0; n * d], vec![0.0; d], vec![0.0; d]);
        kernels::centre(Lanes::Wide, &z, d, &mut zc, &mut mean, &mut ws).unwrap();
        let mut cov = vec![0.0; d * d];
        group.throughput(Throughput::Elements(flops(n, d)));
        for (name, lanes) in [("scalar", Lanes::Scalar), ("wide", Lanes::Wide)] {
            group.bench_function(BenchmarkId::new(name, format!("n{n}_d{d}")), |bench| {
                bench.iter(|| black_box(kernels::covariance_matrix(lanes, &zc, d, &mut cov).unwrap()));
            });
        }
        group.bench_function(BenchmarkId::new("sgemm", format!("n{n}_d{d}")), |bench| {
            bench.iter(|| {
                // C (d×d) = Z_cᵀ (d×n) · Z_c (n×d), all row-major views of zc.
                // SAFETY: every pointer and stride describes a live buffer of
                // exactly the given extent.
                unsafe {
                    matrixmultiply::sgemm(
                        d,
                        n,
                        d,
                        1.0 / (n - 1) as f32,
                        zc.as_ptr(),
                        1,
                        d as isize,
                        zc.as_ptr(),
                        d as isize,
                        1,
                        0.0,
                        cov.as_mut_ptr(),
                        d as isize,
                        1,
                    );
                }
                black_box(cov[d + 1])
            });
        });
    }
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(10)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! { name = benches; config = config(); targets = loss_benches, accumulation_benches }
criterion_main!(benches);
