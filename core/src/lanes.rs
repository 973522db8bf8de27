//! The vector primitives every O(n·d) and O(n·d²) pass is built from, in two
//! interchangeable forms: plain scalar loops, and explicit 8-lane SIMD with
//! scalar tails.
//!
//! The SIMD form is written once, against [`vector::Simd`], and compiled for
//! the build's target features (`wide::f32x8`, lowered to AVX, SSE, NEON or
//! WASM `simd128`, and to eight scalars where there are no f32 vectors, as on
//! the Cortex-M4F). With the `std` feature on x86-64 it is compiled a second
//! time for AVX2 and FMA, which run wherever the CPU has them
//! ([`avx`]): the default target assumes only SSE2. The scalar form is kept
//! beside it so tests can compare the two, and so a user can pick whichever
//! is faster on a part.
//!
//! Every primitive takes the lengths from its slices and works on the common
//! prefix; callers pass equal lengths, so nothing here can index out of bounds.
//!
//! One idea a file: `select` (which lanes, and the run-time dispatch),
//! `vector` (the SIMD abstraction), `avx` (the AVX2 + FMA entries), `blas1`
//! (vector primitives), `products` (packed and register-tiled matrix
//! products), `gram` (Zᵀ·Z, Z·Zᵀ and the mirror), `columns` (centring by
//! columns), `adamw` (the fused optimiser step), `probes` (finiteness). The
//! tests of all of them stay here, where they see every kernel.

// The kernels and the vector operations must inline into each entry of
// `avx` to be compiled for its target features: a call that stayed a call
// would run the baseline code. Where there is no `avx` (every no_std build)
// the kernels are only `#[inline]`, so that a firmware's flash is not spent
// on copies the compiler would not have chosen to make. (`dot` and `axpy`
// were forced while Conv1d called them on every window; since it takes the
// products, forcing them saved 3,080 instructions of the big-batch
// firmware's 119 million a step, for 32 bytes of flash.)
#![allow(clippy::inline_always)]

mod adamw;
#[cfg(all(feature = "std", target_arch = "x86_64"))]
pub(crate) mod avx;
mod blas1;
mod columns;
mod gram;
mod probes;
mod products;
mod select;
mod vector;

pub(crate) use adamw::{AdamStep, adamw_with};
pub(crate) use blas1::*;
pub(crate) use columns::centre_columns;
pub(crate) use gram::*;
pub(crate) use probes::*;
pub(crate) use products::*;
pub use select::Lanes;
pub(crate) use select::{effective, simd};
pub(crate) use vector::{Portable, Simd, W};

#[cfg(test)]
mod tests {
    use super::*;

    fn ramp(len: usize, k: f32) -> [f32; 40] {
        core::array::from_fn(|i| if i < len { (i as f32 * k).sin() } else { 0.0 })
    }

    /// Whether `got` is `want` (computed in f64) to f32 rounding of a sum
    /// whose terms have absolute values adding to `scale`.
    fn agrees(got: f32, want: f64, scale: f64) -> bool {
        (f64::from(got) - want).abs() <= 1e-5 * (1.0 + scale)
    }

    const LANES: [Lanes; 2] = [Lanes::Scalar, Lanes::Wide];

    // Each primitive against a plain f64 loop written here, for both lanes
    // and every tail length: comparing the two lanes with each other alone
    // would pass a mistake they share (a primitive returning 0, a tile that
    // is never written).
    #[test]
    #[allow(clippy::needless_range_loop)] // x, y, w, out and the f64 sums in step
    fn reductions_and_updates_match_plain_sums() {
        for lanes in LANES {
            for len in [0, 1, 3, 7, 8, 9, 15, 16, 17, 25, 39] {
                let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
                let w = [x, y, &ramp(len, 2.1)[..len], &ramp(len, 0.3)[..len]];
                let sum = |f: &dyn Fn(usize) -> f64| (0..len).map(f).sum::<f64>();
                let (xd, yd) = (|i: usize| f64::from(x[i]), |i: usize| f64::from(y[i]));

                let scale = sum(&|i| (xd(i) * yd(i)).abs());
                assert!(agrees(dot(lanes, x, y), sum(&|i| xd(i) * yd(i)), scale), "dot {lanes:?} {len}");
                let ssd = sum(&|i| (xd(i) - yd(i)) * (xd(i) - yd(i)));
                assert!(agrees(sum_sq_diff(lanes, x, y), ssd, ssd), "sum_sq_diff {lanes:?} {len}");
                let four = dot4(x, w);
                for (r, got) in four.iter().enumerate() {
                    let want = sum(&|i| xd(i) * f64::from(w[r][i]));
                    assert!(agrees(*got, want, scale + sum(&|i| xd(i).abs())), "dot4 row {r} {lanes:?} {len}");
                }

                // y₀ = x; y₀ += 0.5·y; += Σ a_r·w_r; += x ⊙ y; then out = 1.5·(y₁ − y) + y.
                let a = [1.0f32, -2.0, 0.25, 3.0];
                let mut out = [0.0f32; 40];
                let out = &mut out[..len];
                out.copy_from_slice(x);
                axpy(lanes, 0.5, y, out);
                for i in 0..len {
                    let want = xd(i) + 0.5 * yd(i);
                    assert!(agrees(out[i], want, want.abs()), "axpy {lanes:?} {len} [{i}]");
                }
                axpy4(lanes, a, w, out);
                mul_acc(lanes, out, x, y);
                let mut expected = [0.0f64; 40];
                for i in 0..len {
                    let rows: f64 = (0..4).map(|r| f64::from(a[r]) * f64::from(w[r][i])).sum();
                    expected[i] = xd(i) + 0.5 * yd(i) + rows + xd(i) * yd(i);
                    assert!(agrees(out[i], expected[i], 8.0), "axpy4 and mul_acc {lanes:?} {len} [{i}]");
                }
                let before: [f32; 40] = core::array::from_fn(|i| out.get(i).copied().unwrap_or(0.0));
                let mut other = [0.0f32; 40];
                let sq = sum_sq_diff_scaled(lanes, &before[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                let diff = |i: usize| f64::from(before[i]) - yd(i);
                let want: f64 = (0..len).map(|i| diff(i) * diff(i)).sum();
                assert!(agrees(sq, want, want), "sum_sq_diff_scaled's sum {lanes:?} {len}");
                add_assign(lanes, out, y);
                for i in 0..len {
                    let want = 1.5 * diff(i) + yd(i);
                    assert!(agrees(out[i], want, 16.0), "sum_sq_diff_scaled and add_assign {lanes:?} {len} [{i}]");
                    assert!(agrees(other[i], -1.5 * diff(i), 16.0), "sum_sq_diff_scaled {lanes:?} {len} [{i}]");
                }
            }
        }
    }

    /// A deterministic n×d matrix with no two equal entries.
    fn matrix(rows: usize, cols: usize, k: f32) -> [f32; 160] {
        core::array::from_fn(|i| if i < rows * cols { (i as f32 * k + 0.3).sin() } else { 0.0 })
    }

    type GramKernel = fn(&[f32], usize, &mut [f32]);

    #[test]
    fn tiled_gram_accumulates_the_upper_triangle_of_z_transpose_z() {
        let n = 5;
        // Every tile shape: fewer than eight columns, whole and partial
        // blocks of eight and sixteen, row groups of four and the rest.
        // The vector tiles, and the scalar register tiles a target without
        // vectors runs.
        let kernels: [(&str, GramKernel); 2] = [("vectors", gram_upper_tiled), ("registers", gram_upper_registers)];
        for ((name, kernel), d) in
            kernels.into_iter().flat_map(|k| [1, 2, 5, 8, 9, 13, 16, 17, 24, 25, 31].map(|d| (k, d)))
        {
            let z = &matrix(n, d, 0.37)[..n * d];
            // C starts from values of its own, which the product adds to.
            let mut c = [0.0f32; 31 * 31];
            let c = &mut c[..d * d];
            for (i, v) in c.iter_mut().enumerate() {
                *v = (i % 7) as f32 - 3.0;
            }
            kernel(z, d, c);
            for j in 0..d {
                for k in j..d {
                    let terms = |f: &dyn Fn(f64) -> f64| {
                        (0..n).map(|i| f(f64::from(z[i * d + j]) * f64::from(z[i * d + k]))).sum::<f64>()
                    };
                    let want = ((j * d + k) % 7) as f64 - 3.0 + terms(&|t| t);
                    assert!(agrees(c[j * d + k], want, 3.0 + terms(&f64::abs)), "{name} d {d}: C[{j}][{k}]");
                }
            }
        }
    }

    #[test]
    fn finiteness_is_found_at_every_place_and_only_where_it_fails() {
        // The largest and smallest finite values and a negative zero are
        // finite; an infinity of either sign or a NaN anywhere, in a vector
        // or in the tail, is not.
        for len in [0, 1, 7, 8, 9, 17, 24] {
            let mut x = ramp(len, 0.3);
            let x = &mut x[..len];
            x.iter_mut().step_by(3).for_each(|v| *v = f32::MAX);
            x.iter_mut().skip(1).step_by(5).for_each(|v| *v = -f32::MIN_POSITIVE);
            x.iter_mut().skip(2).step_by(4).for_each(|v| *v = -0.0);
            assert!(all_finite(x), "{len}");
            for at in 0..len {
                for bad in [f32::INFINITY, f32::NEG_INFINITY, f32::NAN] {
                    let keep = x[at];
                    x[at] = bad;
                    assert!(!all_finite(x), "{len}: {bad} at {at}");
                    x[at] = keep;
                }
            }
        }
        assert!(probe(probe(0.0, f32::MAX), -3.0) == 0.0, "finite values leave the probe at zero");
        assert!(probe(probe(0.0, f32::NAN), 1.0).is_nan());
    }

    #[test]
    fn mirror_copies_every_upper_value_below_and_keeps_the_upper_triangle() {
        for d in [1, 5, 16, 17, 40] {
            let before: [f32; 1600] = core::array::from_fn(|i| i as f32);
            let mut c = before;
            mirror_upper(&mut c[..d * d], d);
            for j in 0..d {
                for k in 0..d {
                    let want = before[j.min(k) * d + j.max(k)];
                    assert_eq!(c[j * d + k].to_bits(), want.to_bits(), "d = {d}, ({j}, {k})");
                }
            }
        }
    }

    #[test]
    fn transpose_moves_lane_j_of_vector_i_to_lane_i_of_vector_j() {
        fn check<S: Simd>(s: S, name: &str) {
            let rows: [S::V; W] = core::array::from_fn(|i| s.load(&core::array::from_fn(|j| (10 * i + j) as f32)));
            for (j, v) in s.transpose(rows).into_iter().enumerate() {
                let mut lanes = [0.0; W];
                s.store(v, &mut lanes);
                let want: [f32; W] = core::array::from_fn(|i| (10 * i + j) as f32);
                assert_eq!(lanes.map(f32::to_bits), want.map(f32::to_bits), "{name}: vector {j}");
            }
        }
        check(Portable, "portable");
        #[cfg(all(feature = "std", target_arch = "x86_64"))]
        if let Some(proof) = avx::Avx2Fma::detect() {
            check(proof, "avx2+fma");
        }
    }

    #[test]
    fn row_gram_is_z_times_z_transpose() {
        for n in [1, 2, 3, 5, 7] {
            for d in [1, 5, 8, 9, 16, 17, 22] {
                let z = &matrix(n, d, 0.53)[..n * d];
                let (mut dispatched, mut portable) = ([f32::NAN; 7 * 7], [f32::NAN; 7 * 7]);
                gram_rows(z, d, &mut dispatched[..n * n]);
                gram_rows_in(Portable, z, d, &mut portable[..n * n]);
                for i in 0..n {
                    for l in 0..n {
                        let want: f64 = (0..d).map(|c| f64::from(z[i * d + c]) * f64::from(z[l * d + c])).sum();
                        for k in [&dispatched, &portable] {
                            assert!(agrees(k[i * n + l], want, d as f64), "n {n} d {d} K[{i}][{l}]");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn matrix_product_accumulates_s_times_a_b() {
        let s = -0.75;
        // Both lanes; the scalar register tiles that a target without
        // vectors runs for either; and the vector tiles reading B, or A,
        // transposed (a Linear layer's forward product and weight gradient).
        let forms = ["scalar", "wide", "registers", "B transposed", "A transposed"];
        for form in forms {
            for (rows, m) in [(1, 1), (1, 4), (4, 3), (5, 5), (6, 2), (8, 3), (2, 0)] {
                for k in [0, 1, 7, 8, 9, 16, 17, 25] {
                    let a = &matrix(rows, m, 0.61)[..rows * m];
                    let b = &matrix(m, k, 0.29)[..m * k];
                    let mut at = [0.0f32; 160];
                    let mut bt = [0.0f32; 160];
                    for (i, j) in (0..rows).flat_map(|i| (0..m).map(move |j| (i, j))) {
                        at[j * rows + i] = a[i * m + j];
                    }
                    for (j, c) in (0..m).flat_map(|j| (0..k).map(move |c| (j, c))) {
                        bt[c * m + j] = b[j * k + c];
                    }
                    let (at, bt) = (&at[..rows * m], &bt[..m * k]);
                    let mut out = [0.0f32; 8 * 25];
                    let out = &mut out[..rows * k];
                    for (i, v) in out.iter_mut().enumerate() {
                        *v = (i % 5) as f32 * 0.5;
                    }
                    match form {
                        "scalar" => matmul_acc(Lanes::Scalar, s, a, m, b, out),
                        "wide" => matmul_acc(Lanes::Wide, s, a, m, b, out),
                        "registers" if m > 0 => matmul_registers(s, a, m, b, out),
                        "B transposed" => matmul_acc_bt(s, a, m, bt, out),
                        "A transposed" => matmul_acc_at(s, at, m, b, out),
                        _ => {}
                    }
                    for i in 0..rows {
                        for c in 0..k {
                            let terms = (0..m).map(|j| f64::from(a[i * m + j]) * f64::from(b[j * k + c]));
                            let want = ((i * k + c) % 5) as f64 * 0.5 + f64::from(s) * terms.sum::<f64>();
                            assert!(
                                agrees(out[i * k + c], want, 2.0 + m as f64),
                                "{form} {rows}×{m}·{m}×{k} [{i}][{c}]"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn wide_primitives_match_scalar_for_every_tail_length() {
        for len in 0..40 {
            let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
            let close = |s: f32, w: f32| (s - w).abs() <= 1e-5 * (1.0 + s.abs());
            assert!(close(dot(Lanes::Scalar, x, y), dot(Lanes::Wide, x, y)), "dot, len {len}");
            assert!(close(sum_sq_diff(Lanes::Scalar, x, y), sum_sq_diff(Lanes::Wide, x, y)), "ssd, len {len}");

            let mut outs = [[0.0f32; 40]; 2];
            for (out, lanes) in outs.iter_mut().zip([Lanes::Scalar, Lanes::Wide]) {
                let out = &mut out[..len];
                out.copy_from_slice(x);
                axpy(lanes, 0.5, y, out);
                axpy4(lanes, [1.0, -2.0, 0.25, 3.0], [x, y, y, x], out);
                mul_acc(lanes, out, x, y);
                let copy: [f32; 40] = core::array::from_fn(|i| out.get(i).copied().unwrap_or(0.0));
                let mut other = [0.0f32; 40];
                let sq = sum_sq_diff_scaled(lanes, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                add_assign(lanes, out, y);
                axpy(lanes, 0.5 + sq, &other[..len], out);
            }
            for (s, w) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*s, *w), "element-wise primitives, len {len}: {s} vs {w}");
            }
        }
    }

    /// With `std` on x86-64 `Lanes::Wide` runs the AVX2/FMA build of each
    /// kernel where the CPU has it, so the tests above check that one
    /// against f64; this checks the build-feature form (what a CPU without
    /// AVX2 runs, and every other target) against it, kernel by kernel.
    #[test]
    fn the_portable_kernels_agree_with_the_dispatched_ones() {
        let close = |p: f32, w: f32, scale: f32| (p - w).abs() <= 1e-5 * (1.0 + scale);
        for len in 0..40 {
            let (x, y) = (&ramp(len, 0.7)[..len], &ramp(len, 1.3)[..len]);
            let w = [x, y, &ramp(len, 2.1)[..len], &ramp(len, 0.3)[..len]];
            assert!(close(dot_in(Portable, x, y), dot(Lanes::Wide, x, y), 1.0), "dot {len}");
            assert!(close(sum_sq_diff_in(Portable, x, y), sum_sq_diff(Lanes::Wide, x, y), 4.0), "ssd {len}");
            let mut outs = [[0.0f32; 40]; 2];
            for (k, out) in outs.iter_mut().enumerate() {
                let out = &mut out[..len];
                out.copy_from_slice(x);
                let copy: [f32; 40] = core::array::from_fn(|i| x.get(i).copied().unwrap_or(0.0));
                let mut other = [0.0f32; 40];
                if k == 0 {
                    axpy_in(Portable, 0.5, y, out);
                    axpy4_in(Portable, [1.0, -2.0, 0.25, 3.0], w, out);
                    mul_acc_in(Portable, out, x, y);
                    let sq = sum_sq_diff_scaled_in(Portable, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                    axpy_in(Portable, 0.5 + sq, &other[..len], out);
                } else {
                    axpy(Lanes::Wide, 0.5, y, out);
                    axpy4(Lanes::Wide, [1.0, -2.0, 0.25, 3.0], w, out);
                    mul_acc(Lanes::Wide, out, x, y);
                    let sq = sum_sq_diff_scaled(Lanes::Wide, &copy[..len], y, 1.5, [&mut *out, &mut other[..len]]);
                    axpy(Lanes::Wide, 0.5 + sq, &other[..len], out);
                }
            }
            for (p, d) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*p, *d, 16.0), "element-wise, len {len}: {p} vs {d}");
            }
        }
        for (rows, m, k) in [(5, 3, 25), (4, 7, 16), (1, 2, 8), (6, 5, 17)] {
            let (a, b) = (&matrix(rows, m, 0.61)[..rows * m], &matrix(m, k, 0.29)[..m * k]);
            let mut outs = [[0.25f32; 6 * 25]; 2];
            matmul_acc_in(Portable, -0.75, a, m, b, &mut outs[0][..rows * k]);
            matmul_acc(Lanes::Wide, -0.75, a, m, b, &mut outs[1][..rows * k]);
            for (p, d) in outs[0].iter().zip(&outs[1]) {
                assert!(close(*p, *d, m as f32), "matmul_acc {rows}×{m}·{m}×{k}: {p} vs {d}");
            }
        }
        for d in [5, 13, 24, 31] {
            let z = &matrix(5, d, 0.37)[..5 * d];
            let mut cs = [[0.0f32; 31 * 31]; 2];
            gram_upper_tiled_in(Portable, z, d, &mut cs[0][..d * d]);
            gram_upper_tiled(z, d, &mut cs[1][..d * d]);
            for j in 0..d {
                for k in j..d {
                    let (p, w) = (cs[0][j * d + k], cs[1][j * d + k]);
                    assert!(close(p, w, 5.0), "gram d {d} [{j}][{k}]: {p} vs {w}");
                }
            }
        }
    }

    /// Where the build itself enables AVX2 and FMA (as the Miri step does,
    /// to interpret the AVX2 kernels), detection must find them: otherwise
    /// the tests above would silently test the portable kernels twice.
    #[test]
    #[cfg(all(feature = "std", target_arch = "x86_64", target_feature = "avx2", target_feature = "fma"))]
    fn detection_finds_what_the_build_enables() {
        assert!(avx::Avx2Fma::detect().is_some());
    }
}
