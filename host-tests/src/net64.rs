//! An independent f64 forward pass of a declared network in training mode
//! (BatchNorm on batch statistics), written from `torch.nn`'s definitions
//! rather than from the core's kernels, and the loss on top of it: the
//! ground truth for the core's gradients through difference quotients taken
//! in f64, where rounding no longer hides a 1 % error.

use crate::f64_reference::{self, Config64};
use vicreg::nn::{Layer, Net, Shape};

/// One view's forward pass: n rows of the input → n rows of the output of
/// the first `until` layers. `params` in the core's storage order; BatchNorm
/// on the batch's statistics (training), or on `running` (inference: per
/// BatchNorm layer the means then the variances, as the core stores them).
pub fn forward(
    net: &Net<'_>,
    params: &[f64],
    running: Option<&[f64]>,
    x: &[f64],
    n: usize,
    eps: f64,
    until: usize,
) -> Vec<f64> {
    let mut shape = net.input;
    let mut stats_at = 0;
    let mut act = x.to_vec();
    let mut at = 0;
    for i in 0..until {
        let layer = net.layer(i).expect("a layer");
        let out_shape = layer.output(shape).expect("a valid network");
        let (in_len, out_len) = (shape.len(), out_shape.len());
        let mut out = vec![0.0; n * out_len];
        match layer {
            Layer::Linear(l) => {
                let w = &params[at..at + l.out * in_len];
                let b = if l.bias { &params[at + l.out * in_len..at + l.out * in_len + l.out] } else { &[][..] };
                for r in 0..n {
                    for o in 0..l.out {
                        let dot: f64 = (0..in_len).map(|k| w[o * in_len + k] * act[r * in_len + k]).sum();
                        out[r * out_len + o] = dot + b.get(o).copied().unwrap_or(0.0);
                    }
                }
                at += l.out * in_len + if l.bias { l.out } else { 0 };
            }
            Layer::Conv1d(c) => {
                let (ci, t_in) = (shape.channels(), shape.length());
                let t_out = out_shape.length();
                let w = &params[at..at + c.out_channels * ci * c.kernel];
                let b_at = at + c.out_channels * ci * c.kernel;
                for r in 0..n {
                    for o in 0..c.out_channels {
                        for t in 0..t_out {
                            let mut sum = if c.bias { params[b_at + o] } else { 0.0 };
                            for ch in 0..ci {
                                for k in 0..c.kernel {
                                    // Zero padding: positions outside [0, T) contribute nothing.
                                    let pos = (t * c.stride + k) as isize - c.padding as isize;
                                    if pos >= 0 && (pos as usize) < t_in {
                                        sum += w[(o * ci + ch) * c.kernel + k]
                                            * act[r * in_len + ch * t_in + pos as usize];
                                    }
                                }
                            }
                            out[r * out_len + o * t_out + t] = sum;
                        }
                    }
                }
                at += c.out_channels * ci * c.kernel + if c.bias { c.out_channels } else { 0 };
            }
            Layer::BatchNorm => {
                let (ch, t) = (shape.channels(), shape.length());
                let (gamma, beta) = (&params[at..at + ch], &params[at + ch..at + 2 * ch]);
                let count = (n * t) as f64;
                for c in 0..ch {
                    let values = (0..n).flat_map(|r| (0..t).map(move |p| r * in_len + c * t + p));
                    let (mean, var) = match running {
                        Some(r) => (r[stats_at + c], r[stats_at + ch + c]),
                        None => {
                            let mean = values.clone().map(|k| act[k]).sum::<f64>() / count;
                            (mean, values.clone().map(|k| (act[k] - mean).powi(2)).sum::<f64>() / count)
                        }
                    };
                    for k in values {
                        out[k] = gamma[c] * (act[k] - mean) / (var + eps).sqrt() + beta[c];
                    }
                }
                at += 2 * ch;
                stats_at += 2 * ch;
            }
            Layer::ReLU => {
                for (o, a) in out.iter_mut().zip(&act) {
                    *o = a.max(0.0);
                }
            }
            Layer::Conv2d(c) => {
                let Shape::Image { channels: ci, height: h_in, width: w_in } = shape else { panic!("an image") };
                let Shape::Image { height: h_out, width: w_out, .. } = out_shape else { panic!("an image") };
                let [kh, kw] = c.kernel.map(usize::from);
                let (stride, padding) = (c.stride.map(usize::from), c.padding.map(usize::from));
                let weights = c.out_channels * ci * kh * kw;
                let w = &params[at..at + weights];
                // The input position a tap reads along one axis, if inside.
                let inside = |o: usize, k: usize, axis: usize, len: usize| {
                    (o * stride[axis] + k).checked_sub(padding[axis]).filter(|&p| p < len)
                };
                for r in 0..n {
                    for o in 0..c.out_channels {
                        for (i, j) in (0..h_out).flat_map(|i| (0..w_out).map(move |j| (i, j))) {
                            let mut sum = if c.bias { params[at + weights + o] } else { 0.0 };
                            for (ch, u, v) in
                                (0..ci).flat_map(|ch| (0..kh).flat_map(move |u| (0..kw).map(move |v| (ch, u, v))))
                            {
                                if let (Some(p), Some(q)) = (inside(i, u, 0, h_in), inside(j, v, 1, w_in)) {
                                    sum += w[((o * ci + ch) * kh + u) * kw + v]
                                        * act[r * in_len + (ch * h_in + p) * w_in + q];
                                }
                            }
                            out[r * out_len + (o * h_out + i) * w_out + j] = sum;
                        }
                    }
                }
                at += weights + if c.bias { c.out_channels } else { 0 };
            }
            Layer::MaxPool2d(vicreg::nn::MaxPool2d { kernel, stride })
            | Layer::AvgPool2d(vicreg::nn::AvgPool2d { kernel, stride }) => {
                let Shape::Image { channels, height: _, width: w_in } = shape else { panic!("an image") };
                let Shape::Image { height: h_out, width: w_out, .. } = out_shape else { panic!("an image") };
                let max = matches!(layer, Layer::MaxPool2d(_));
                let (kernel, stride) = (kernel.map(usize::from), stride.map(usize::from));
                for (r, c) in (0..n).flat_map(|r| (0..channels).map(move |c| (r, c))) {
                    let plane = &act[r * in_len + c * (in_len / channels)..];
                    for (i, j) in (0..h_out).flat_map(|i| (0..w_out).map(move |j| (i, j))) {
                        let window = (0..kernel[0])
                            .flat_map(|u| (0..kernel[1]).map(move |v| (u, v)))
                            .map(|(u, v)| plane[(i * stride[0] + u) * w_in + j * stride[1] + v]);
                        out[r * out_len + (c * h_out + i) * w_out + j] = if max {
                            window.fold(f64::NEG_INFINITY, f64::max)
                        } else {
                            window.sum::<f64>() / (kernel[0] * kernel[1]) as f64
                        };
                    }
                }
            }
            Layer::MeanTime | Layer::MeanSpace => {
                let (ch, t) = (shape.channels(), shape.length());
                for r in 0..n {
                    for c in 0..ch {
                        out[r * ch + c] = (0..t).map(|p| act[r * in_len + c * t + p]).sum::<f64>() / t as f64;
                    }
                }
            }
        }
        act = out;
        shape = out_shape;
    }
    act
}

/// The smallest |input| of any ReLU over a view's forward pass (infinity
/// without ReLU): where it is zero the loss has a kink and a difference
/// quotient measures neither side's derivative.
pub fn relu_margin(net: &Net<'_>, params: &[f64], x: &[f64], n: usize, eps: f64) -> f64 {
    (0..net.depth())
        .filter(|&i| net.layer(i) == Some(Layer::ReLU))
        .flat_map(|i| forward(net, params, None, x, n, eps, i))
        .fold(f64::INFINITY, |m, v| m.min(v.abs()))
}

/// The smallest gap between the largest and the second largest value of
/// any MaxPool2d window over a view's forward pass (infinity without
/// MaxPool2d): where two values tie, the maximum has a kink, as ReLU at zero.
pub fn pool_margin(net: &Net<'_>, params: &[f64], x: &[f64], n: usize, eps: f64) -> f64 {
    let mut min = f64::INFINITY;
    for i in 0..net.depth() {
        let Some(Layer::MaxPool2d(pool)) = net.layer(i) else { continue };
        let input = forward(net, params, None, x, n, eps, i);
        let shape = net.shape_before(i).expect("a valid network");
        let Shape::Image { height, width, .. } = shape else { continue };
        let Ok(Shape::Image { height: h_out, width: w_out, .. }) = Layer::MaxPool2d(pool).output(shape) else {
            continue;
        };
        for plane in input.chunks_exact(height * width) {
            for (i, j) in (0..h_out).flat_map(|i| (0..w_out).map(move |j| (i, j))) {
                let (mut first, mut second) = (f64::NEG_INFINITY, f64::NEG_INFINITY);
                let (kernel, stride) = (pool.kernel.map(usize::from), pool.stride.map(usize::from));
                for (u, v) in (0..kernel[0]).flat_map(|u| (0..kernel[1]).map(move |v| (u, v))) {
                    let value = plane[(i * stride[0] + u) * width + j * stride[1] + v];
                    if value > first {
                        (first, second) = (value, first);
                    } else if value > second {
                        second = value;
                    }
                }
                min = min.min(first - second);
            }
        }
    }
    min
}

/// The smallest batch variance of any channel entering a BatchNorm (infinity
/// without BatchNorm): a (nearly) constant channel is divided by about √eps,
/// which magnifies f32 rounding three hundredfold at each such layer.
pub fn batch_norm_min_variance(net: &Net<'_>, params: &[f64], x: &[f64], n: usize, eps: f64) -> f64 {
    let mut min = f64::INFINITY;
    for i in (0..net.depth()).filter(|&i| net.layer(i) == Some(Layer::BatchNorm)) {
        let input = forward(net, params, None, x, n, eps, i);
        let shape = net.shape_before(i).expect("a valid network");
        let (c, t) = (shape.channels(), shape.length());
        for ch in 0..c {
            let v: Vec<f64> =
                (0..n).flat_map(|r| (0..t).map(move |p| r * c * t + ch * t + p)).map(|k| input[k]).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            min = min.min(v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64);
        }
    }
    min
}

/// The VICReg loss of the two views' embeddings, all in f64.
pub fn loss(net: &Net<'_>, params: &[f64], x_a: &[f64], x_b: &[f64], n: usize, eps: f64, cfg: &Config64) -> f64 {
    let depth = net.depth();
    let z_a = forward(net, params, None, x_a, n, eps, depth);
    let z_b = forward(net, params, None, x_b, n, eps, depth);
    let d = z_a.len() / n;
    f64_reference::loss_and_gradients(&z_a, &z_b, d, cfg).loss
}

/// ∂ℓ/∂θ for every parameter by central differences of [`loss`] in f64,
/// with a step of `h` relative to each parameter's magnitude (at least `h`).
pub fn gradient(
    net: &Net<'_>,
    params: &[f64],
    x_a: &[f64],
    x_b: &[f64],
    n: usize,
    eps: f64,
    cfg: &Config64,
) -> Vec<f64> {
    let mut p = params.to_vec();
    (0..params.len())
        .map(|i| {
            let h = 1e-6 * params[i].abs().max(1.0);
            p[i] = params[i] + h;
            let up = loss(net, &p, x_a, x_b, n, eps, cfg);
            p[i] = params[i] - h;
            let down = loss(net, &p, x_a, x_b, n, eps, cfg);
            p[i] = params[i];
            (up - down) / (2.0 * h)
        })
        .collect()
}
