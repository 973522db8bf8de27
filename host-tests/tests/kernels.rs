//! The public kernels against sums in f64, on shapes that cross the block
//! edges of the large products as the library is built (copied blocks of
//! A from 256 rows, the packed feature side from d = 512, the Gram
//! matrix's passes of 2048 columns), where the loss's own tests stay small.
//! Each entry is held to the worst-case rounding bound of a sum of m
//! products in f32, m·ε·Σ|aᵢbᵢ|: a wrong value or a value left out exceeds
//! it by orders of magnitude.

use host_tests::batches::view_pair;
use vicreg::kernels::{covariance_matrix, gram_matrix, matrix_product};
use vicreg::{Error, Lanes};

/// Whether `got` is within the rounding bound of a sum of `m` products
/// whose magnitudes add up to `magnitude`.
fn within_bound(got: f32, want: f64, m: usize, magnitude: f64) -> bool {
    (f64::from(got) - want).abs() <= (m as f64 * f64::from(f32::EPSILON)).mul_add(magnitude, 1e-30)
}

#[test]
fn covariance_matrix_is_z_transpose_z_over_n_minus_one_across_the_block_edges() {
    for (n, d) in [(300, 530), (7, 515), (260, 9), (3, 40)] {
        let (z, _) = view_pair(n, d, (n * 31 + d) as u64);
        let mut c = vec![0.0; d * d];
        for lanes in [Lanes::Wide, Lanes::Scalar] {
            covariance_matrix(lanes, &z, d, &mut c).unwrap();
            for j in 0..d {
                for k in 0..d {
                    let column = |c: usize| z.iter().skip(c).step_by(d).map(|&x| f64::from(x));
                    let want: f64 = column(j).zip(column(k)).map(|(x, y)| x * y).sum::<f64>() / (n - 1) as f64;
                    let magnitude: f64 =
                        column(j).zip(column(k)).map(|(x, y)| (x * y).abs()).sum::<f64>() / (n - 1) as f64;
                    assert!(
                        within_bound(c[j * d + k], want, n, magnitude),
                        "{lanes:?} n={n} d={d} C[{j}][{k}] = {} against {want}",
                        c[j * d + k]
                    );
                }
            }
        }
    }
}

#[test]
fn gram_matrix_is_z_times_z_transpose_across_the_block_edges() {
    for (n, d) in [(300, 2100), (100, 2049), (260, 33), (5, 3)] {
        let (z, _) = view_pair(n, d, (n * 17 + d) as u64);
        let mut k = vec![0.0; n * n];
        for lanes in [Lanes::Wide, Lanes::Scalar] {
            gram_matrix(lanes, &z, d, &mut k).unwrap();
            for i in 0..n {
                for l in 0..n {
                    let pairs = || z[i * d..(i + 1) * d].iter().zip(&z[l * d..(l + 1) * d]);
                    let want: f64 = pairs().map(|(&x, &y)| f64::from(x) * f64::from(y)).sum();
                    let magnitude: f64 = pairs().map(|(&x, &y)| (f64::from(x) * f64::from(y)).abs()).sum();
                    assert!(
                        within_bound(k[i * n + l], want, d, magnitude),
                        "{lanes:?} n={n} d={d} K[{i}][{l}] = {} against {want}",
                        k[i * n + l]
                    );
                }
            }
        }
    }
}

#[test]
fn matrix_product_accumulates_s_a_b_across_the_block_edges() {
    for (rows, m, cols) in [(300, 530, 37), (257, 260, 300), (256, 256, 16), (5, 3, 9), (1, 1, 1)] {
        let (a, b) = view_pair(rows.max(cols), m, (rows * 7 + m + cols) as u64);
        let (a, b) = (&a[..rows * m], &b[..m * cols]);
        let s = -0.75;
        let start: Vec<f32> = (0..rows * cols).map(|i| (i % 13) as f32 * 0.25).collect();
        for lanes in [Lanes::Wide, Lanes::Scalar] {
            let mut out = start.clone();
            matrix_product(lanes, s, a, m, b, &mut out).unwrap();
            for i in 0..rows {
                for c in 0..cols {
                    let terms = || (0..m).map(|j| f64::from(a[i * m + j]) * f64::from(b[j * cols + c]));
                    let want = f64::from(start[i * cols + c]) + f64::from(s) * terms().sum::<f64>();
                    let magnitude = f64::from(start[i * cols + c]).abs() + terms().map(f64::abs).sum::<f64>();
                    assert!(
                        within_bound(out[i * cols + c], want, m + 1, magnitude),
                        "{lanes:?} {rows}×{m}·{m}×{cols} [{i}][{c}] = {} against {want}",
                        out[i * cols + c]
                    );
                }
            }
        }
    }
}

#[test]
fn the_kernels_refuse_shapes_that_do_not_fit() {
    let z = [1.0; 12];
    let mut k = [0.0; 9];
    assert_eq!(gram_matrix(Lanes::Wide, &z, 0, &mut k), Err(Error::ZeroDimension));
    assert_eq!(gram_matrix(Lanes::Wide, &z, 5, &mut k), Err(Error::ShapeMismatch));
    assert_eq!(gram_matrix(Lanes::Wide, &z, 4, &mut k[..8]), Err(Error::ShapeMismatch));
    assert_eq!(gram_matrix(Lanes::Wide, &[], 4, &mut []), Err(Error::TooFewRows { n: 0 }));
    assert_eq!(gram_matrix(Lanes::Wide, &z, 4, &mut k), Ok(()));
    let mut out = [0.0; 8];
    assert_eq!(matrix_product(Lanes::Wide, 1.0, &z, 0, &z, &mut out), Err(Error::ZeroDimension));
    assert_eq!(matrix_product(Lanes::Wide, 1.0, &z[..10], 3, &z, &mut out), Err(Error::ShapeMismatch));
    assert_eq!(matrix_product(Lanes::Wide, 1.0, &z, 3, &z[..11], &mut out), Err(Error::ShapeMismatch));
    assert_eq!(matrix_product(Lanes::Wide, 1.0, &z, 3, &z[..6], &mut out[..7]), Err(Error::ShapeMismatch));
    // 4×3 by 3×2 is 4×2.
    assert_eq!(matrix_product(Lanes::Wide, 1.0, &z, 3, &z[..6], &mut out), Ok(()));
    assert_eq!(out, [3.0; 8]);
}
