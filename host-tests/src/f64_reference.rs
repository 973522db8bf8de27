//! A plain f64 implementation of the VICReg loss and its gradients, written
//! straight from the equations with a full d×d covariance matrix and no
//! shortcuts: the yardstick the f32 core is compared with on shapes the
//! shipped vectors do not cover.

/// Loss coefficients in f64.
#[derive(Clone, Copy, Debug)]
pub struct Config64 {
    /// λ
    pub sim_coeff: f64,
    /// μ
    pub std_coeff: f64,
    /// ν
    pub cov_coeff: f64,
    /// γ
    pub gamma: f64,
    /// ε
    pub eps: f64,
}

impl From<vicreg::Config> for Config64 {
    fn from(c: vicreg::Config) -> Self {
        Self {
            sim_coeff: c.sim_coeff.into(),
            std_coeff: c.std_coeff.into(),
            cov_coeff: c.cov_coeff.into(),
            gamma: c.gamma.into(),
            eps: c.eps.into(),
        }
    }
}

/// Loss, terms and gradients in f64.
#[derive(Clone, Debug)]
pub struct Result64 {
    /// ℓ
    pub loss: f64,
    /// s
    pub invariance: f64,
    /// v(Z) + v(Z′)
    pub variance: f64,
    /// c(Z) + c(Z′)
    pub covariance: f64,
    /// ∂ℓ/∂Z, row-major
    pub grad_a: Vec<f64>,
    /// ∂ℓ/∂Z′, row-major
    pub grad_b: Vec<f64>,
}

/// Computes the loss of two row-major n×d views (n ≥ 2, d ≥ 1).
pub fn loss_and_gradients(z_a: &[f64], z_b: &[f64], d: usize, cfg: &Config64) -> Result64 {
    let n = z_a.len() / d;
    let nd = (n * d) as f64;
    let invariance = z_a.iter().zip(z_b).map(|(a, b)| (a - b) * (a - b)).sum::<f64>() / nd;
    let mut grad_a: Vec<f64> = z_a.iter().zip(z_b).map(|(a, b)| 2.0 * cfg.sim_coeff * (a - b) / nd).collect();
    let mut grad_b: Vec<f64> = grad_a.iter().map(|g| -g).collect();

    let (va, ca) = branch(z_a, n, d, cfg, &mut grad_a);
    let (vb, cb) = branch(z_b, n, d, cfg, &mut grad_b);
    let (variance, covariance) = (va + vb, ca + cb);
    Result64 {
        loss: cfg.sim_coeff * invariance + cfg.std_coeff * variance + cfg.cov_coeff * covariance,
        invariance,
        variance,
        covariance,
        grad_a,
        grad_b,
    }
}

/// v(Z), c(Z), and adds μ·∂v/∂Z + ν·∂c/∂Z to `grad`.
fn branch(z: &[f64], n: usize, d: usize, cfg: &Config64, grad: &mut [f64]) -> (f64, f64) {
    let nm1 = (n - 1) as f64;
    let mean: Vec<f64> = (0..d).map(|j| (0..n).map(|i| z[i * d + j]).sum::<f64>() / n as f64).collect();
    let zc: Vec<f64> = (0..n * d).map(|e| z[e] - mean[e % d]).collect();

    let mut c = vec![0.0; d * d];
    for j in 0..d {
        for k in 0..d {
            c[j * d + k] = (0..n).map(|i| zc[i * d + j] * zc[i * d + k]).sum::<f64>() / nm1;
        }
    }
    let std: Vec<f64> = (0..d).map(|j| (c[j * d + j] + cfg.eps).sqrt()).collect();
    let variance = std.iter().map(|s| (cfg.gamma - s).max(0.0)).sum::<f64>() / (2.0 * d as f64);
    let mut covariance = 0.0;
    for j in 0..d {
        for k in 0..d {
            if j != k {
                covariance += c[j * d + k] * c[j * d + k];
            }
        }
    }
    covariance /= d as f64;

    for i in 0..n {
        for j in 0..d {
            let mut g = 0.0;
            if std[j] < cfg.gamma {
                g -= cfg.std_coeff * zc[i * d + j] / (2.0 * d as f64 * nm1 * std[j]);
            }
            let zg: f64 = (0..d).filter(|&k| k != j).map(|k| zc[i * d + k] * c[k * d + j]).sum();
            g += cfg.cov_coeff * 4.0 / (d as f64 * nm1) * zg;
            grad[i * d + j] += g;
        }
    }
    (variance, covariance)
}
