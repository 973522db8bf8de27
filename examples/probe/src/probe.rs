//! A linear probe: multinomial logistic regression on standardised features,
//! L2-regularised like scikit-learn's default (C = 1: the penalty ½‖W‖² is
//! added to the summed cross-entropy), fitted to convergence by L-BFGS with a
//! backtracking line search (the objective is smooth and strictly convex).

/// Fits on (features, labels) and returns the accuracy on the test pair.
pub fn accuracy(train_x: &[Vec<f32>], train_y: &[usize], test_x: &[Vec<f32>], test_y: &[usize], classes: usize) -> f64 {
    let d = train_x.first().map_or(0, Vec::len);
    let (mean, scale) = standardiser(train_x, d);
    let standardise = |x: &[f32]| -> Vec<f64> { (0..d).map(|j| (f64::from(x[j]) - mean[j]) * scale[j]).collect() };
    let xs: Vec<Vec<f64>> = train_x.iter().map(|x| standardise(x)).collect();
    let w = fit(&xs, train_y, classes, d);
    let correct = test_x.iter().zip(test_y).filter(|(x, y)| predict(&w, &standardise(x), classes, d) == **y).count();
    correct as f64 / test_y.len().max(1) as f64
}

fn standardiser(x: &[Vec<f32>], d: usize) -> (Vec<f64>, Vec<f64>) {
    let n = x.len().max(1) as f64;
    let mean: Vec<f64> = (0..d).map(|j| x.iter().map(|r| f64::from(r[j])).sum::<f64>() / n).collect();
    let scale = (0..d)
        .map(|j| {
            let var = x.iter().map(|r| (f64::from(r[j]) - mean[j]).powi(2)).sum::<f64>() / n;
            if var > 1e-12 { 1.0 / var.sqrt() } else { 0.0 }
        })
        .collect();
    (mean, scale)
}

/// Class scores W·[x, 1] for weights laid out class by class, d + 1 each.
fn scores(w: &[f64], x: &[f64], classes: usize, d: usize) -> Vec<f64> {
    (0..classes)
        .map(|c| w[c * (d + 1)..c * (d + 1) + d].iter().zip(x).map(|(a, b)| a * b).sum::<f64>() + w[c * (d + 1) + d])
        .collect()
}

fn predict(w: &[f64], x: &[f64], classes: usize, d: usize) -> usize {
    let s = scores(w, x, classes, d);
    (0..classes).max_by(|&a, &b| s[a].total_cmp(&s[b])).unwrap_or(0)
}

/// Σᵢ CE(xᵢ, yᵢ) + ½‖W‖² (biases not penalised), and its gradient.
fn objective(w: &[f64], xs: &[Vec<f64>], ys: &[usize], classes: usize, d: usize) -> (f64, Vec<f64>) {
    let mut g = vec![0.0; w.len()];
    let mut value = 0.0;
    for (x, &y) in xs.iter().zip(ys) {
        let s = scores(w, x, classes, d);
        let max = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let exp: Vec<f64> = s.iter().map(|v| (v - max).exp()).collect();
        let total: f64 = exp.iter().sum();
        value += total.ln() + max - s[y];
        for c in 0..classes {
            let err = exp[c] / total - if c == y { 1.0 } else { 0.0 };
            let row = &mut g[c * (d + 1)..(c + 1) * (d + 1)];
            for (gj, xj) in row.iter_mut().zip(x) {
                *gj += err * xj;
            }
            row[d] += err;
        }
    }
    for c in 0..classes {
        for j in 0..d {
            let wj = w[c * (d + 1) + j];
            value += 0.5 * wj * wj;
            g[c * (d + 1) + j] += wj;
        }
    }
    (value, g)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn fit(xs: &[Vec<f64>], ys: &[usize], classes: usize, d: usize) -> Vec<f64> {
    const MEMORY: usize = 10;
    let mut w = vec![0.0; classes * (d + 1)];
    let (mut value, mut g) = objective(&w, xs, ys, classes, d);
    let mut history: std::collections::VecDeque<(Vec<f64>, Vec<f64>, f64)> = std::collections::VecDeque::new();
    for _ in 0..500 {
        if dot(&g, &g).sqrt() < 1e-6 * (1.0 + value.abs()) {
            break;
        }
        // Two-loop recursion: direction = −H·g.
        let mut q = g.clone();
        let mut alphas = Vec::with_capacity(history.len());
        for (s, y, rho) in history.iter().rev() {
            let a = rho * dot(s, &q);
            q.iter_mut().zip(y).for_each(|(qi, yi)| *qi -= a * yi);
            alphas.push(a);
        }
        if let Some((s, y, _)) = history.back() {
            let gamma = dot(s, y) / dot(y, y);
            q.iter_mut().for_each(|v| *v *= gamma);
        } else {
            let norm = dot(&g, &g).sqrt();
            q.iter_mut().for_each(|v| *v /= norm.max(1.0));
        }
        for ((s, y, rho), a) in history.iter().zip(alphas.into_iter().rev()) {
            let b = rho * dot(y, &q);
            q.iter_mut().zip(s).for_each(|(qi, si)| *qi += (a - b) * si);
        }
        let direction: Vec<f64> = q.iter().map(|v| -v).collect();
        let slope = dot(&g, &direction);
        if slope >= 0.0 {
            history.clear();
            continue;
        }
        // Backtracking until the Armijo condition holds.
        let mut t = 1.0;
        let (next, next_value, next_g) = loop {
            let trial: Vec<f64> = w.iter().zip(&direction).map(|(a, b)| a + t * b).collect();
            let (v, gr) = objective(&trial, xs, ys, classes, d);
            if v <= value + 1e-4 * t * slope || t < 1e-10 {
                break (trial, v, gr);
            }
            t *= 0.5;
        };
        let s: Vec<f64> = next.iter().zip(&w).map(|(a, b)| a - b).collect();
        let y: Vec<f64> = next_g.iter().zip(&g).map(|(a, b)| a - b).collect();
        let sy = dot(&s, &y);
        if sy > 1e-12 {
            history.push_back((s, y, 1.0 / sy));
            if history.len() > MEMORY {
                history.pop_front();
            }
        }
        let converged = (value - next_value).abs() < 1e-10 * (1.0 + value.abs());
        (w, value, g) = (next, next_value, next_g);
        if converged {
            break;
        }
    }
    w
}
