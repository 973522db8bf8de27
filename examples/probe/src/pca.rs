//! The first two principal components of a set of rows, in f64: the
//! covariance of the centred rows, its two leading eigenvectors by power
//! iteration with deflation, and each row's coordinates on them.

/// Each row's coordinates on the rows' first two principal components
/// (rows of equal length; an empty set gives nothing).
pub fn project2<'r>(rows: impl Iterator<Item = &'r [f32]> + Clone) -> Vec<[f64; 2]> {
    let n = rows.clone().count();
    let Some(d) = rows.clone().next().map(<[f32]>::len) else { return Vec::new() };
    let mut mean = vec![0.0f64; d];
    for r in rows.clone() {
        for (m, v) in mean.iter_mut().zip(r) {
            *m += f64::from(*v) / n as f64;
        }
    }
    let mut cov = vec![0.0f64; d * d];
    for r in rows.clone() {
        let c: Vec<f64> = r.iter().zip(&mean).map(|(v, m)| f64::from(*v) - m).collect();
        for j in 0..d {
            for k in 0..d {
                cov[j * d + k] += c[j] * c[k];
            }
        }
    }
    let first = leading(&cov, d);
    // Deflate: remove the first component's share, then find the next.
    let lambda = rayleigh(&cov, d, &first);
    for j in 0..d {
        for k in 0..d {
            cov[j * d + k] -= lambda * first[j] * first[k];
        }
    }
    let second = leading(&cov, d);
    rows.map(|r| {
        let c = |axis: &[f64]| r.iter().zip(&mean).zip(axis).map(|((v, m), a)| (f64::from(*v) - m) * a).sum::<f64>();
        [c(&first), c(&second)]
    })
    .collect()
}

fn multiply(m: &[f64], d: usize, v: &[f64]) -> Vec<f64> {
    (0..d).map(|j| (0..d).map(|k| m[j * d + k] * v[k]).sum()).collect()
}

fn rayleigh(m: &[f64], d: usize, v: &[f64]) -> f64 {
    multiply(m, d, v).iter().zip(v).map(|(a, b)| a * b).sum()
}

/// The unit eigenvector of the largest eigenvalue of the symmetric positive
/// semi-definite d×d `m`, by power iteration from a fixed start.
fn leading(m: &[f64], d: usize) -> Vec<f64> {
    let mut v: Vec<f64> = (0..d).map(|i| 1.0 + (i as f64 * 0.618).fract()).collect();
    for _ in 0..500 {
        let w = multiply(m, d, &v);
        let norm = w.iter().map(|x| x * x).sum::<f64>().sqrt();
        if norm == 0.0 {
            break;
        }
        v = w.into_iter().map(|x| x / norm).collect();
    }
    v
}

#[cfg(test)]
mod tests {
    #[test]
    fn rows_along_a_line_project_onto_the_first_component() {
        // Points on the line (t, 2t, 0) plus a small spread along (0, 0, 1).
        let rows: Vec<Vec<f32>> = (0..20).map(|i| vec![i as f32, 2.0 * i as f32, 0.1 * (i % 3) as f32]).collect();
        let p = super::project2(rows.iter().map(Vec::as_slice));
        let spread = |k: usize| p.iter().map(|q| q[k] * q[k]).sum::<f64>();
        assert!(spread(0) > 1000.0 * spread(1), "{} {}", spread(0), spread(1));
        // The first coordinate is the distance along the line, up to sign.
        let step = (p[1][0] - p[0][0]).abs();
        assert!((step - 5f64.sqrt()).abs() < 1e-3, "{step}");
    }
}
