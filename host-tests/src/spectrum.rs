//! Statistics of a set of vectors that tell collapse apart from health:
//! per-dimension standard deviations and the effective rank of the
//! covariance (Roy & Vetterli, 2007): exp of the entropy of the normalised
//! singular values of the centred data.

/// Unbiased standard deviation of every column of row vectors.
pub fn column_stds<const D: usize>(rows: &[[f32; D]]) -> [f64; D] {
    let n = rows.len() as f64;
    core::array::from_fn(|j| {
        let mean = rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n;
        let var = rows.iter().map(|r| (f64::from(r[j]) - mean).powi(2)).sum::<f64>() / (n - 1.0);
        var.sqrt()
    })
}

/// Eigenvalues of a symmetric matrix (row-major d×d) by cyclic Jacobi
/// rotations.
pub fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        if off < 1e-22 {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq.abs() < 1e-300 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let (c, s) = (1.0 / (t * t + 1.0).sqrt(), t / (t * t + 1.0).sqrt());
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

/// The effective rank of row vectors: between 1 (all variation along one
/// direction) and D (equal variation in every direction).
pub fn effective_rank<const D: usize>(rows: &[[f32; D]]) -> f64 {
    let n = rows.len() as f64;
    let mean: [f64; D] = core::array::from_fn(|j| rows.iter().map(|r| f64::from(r[j])).sum::<f64>() / n);
    let mut cov = vec![0.0; D * D];
    for r in rows {
        for j in 0..D {
            for k in 0..D {
                cov[j * D + k] += (f64::from(r[j]) - mean[j]) * (f64::from(r[k]) - mean[k]) / (n - 1.0);
            }
        }
    }
    let singular: Vec<f64> = symmetric_eigenvalues(cov, D).into_iter().map(|l| l.max(0.0).sqrt()).collect();
    let total: f64 = singular.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = singular.iter().map(|s| s / total).filter(|&p| p > 0.0).map(|p| -p * p.ln()).sum();
    entropy.exp()
}
