//! Optimiser updates against their formulas, the schedule, and the
//! augmentations' geometry.

use host_tests::batches::SplitMix;
use vicreg::augment::{Augment, Jitter, Mask, Scale, Shift2d, TimeCrop, TimeShift, ViewPair};
use vicreg::nn::{Frozen, Layer, Net, Place, Shape, Tensors};
use vicreg::{AdamW, Error, Lars, Optimizer, Pcg32, Schedule, Sgd};

/// Linear weights (decayed), biases and BatchNorm parameters (not decayed).
const NET: Net = Net::new(
    Shape::Flat(3),
    &[Layer::linear(4), Layer::ReLU, Layer::linear(2)],
    &[Layer::linear(3), Layer::BatchNorm, Layer::ReLU, Layer::linear(2)],
);

/// Where NET's tensors are, as an optimiser walks them.
const PLACES: [Place; 7] = NET.places::<7>(1);

fn tensors() -> Tensors<'static> {
    Tensors::of(&PLACES)
}

fn filled(seed: u64, scale: f32) -> Vec<f32> {
    let mut rng = SplitMix::new(seed);
    (0..NET.parameter_count()).map(|_| scale * rng.symmetric()).collect()
}

fn flat(p: &[f32]) -> Vec<f64> {
    p.iter().map(|&v| f64::from(v)).collect()
}

fn is_weight_per_element() -> Vec<bool> {
    NET.tensors().flat_map(|t| std::iter::repeat_n(t.decays, t.len())).collect()
}

/// One update with the optimiser's state copies (`copies` of them).
fn update<O: Optimizer>(opt: &mut O, p: &mut [f32], g: &[f32], state: &mut [Vec<f32>; 2], lr: f32, frozen: Frozen) {
    let [m, v] = state;
    opt.update(&tensors(), p, g, m, v, lr, frozen).unwrap();
}

fn state(copies: usize) -> [Vec<f32>; 2] {
    let len = NET.parameter_count();
    [vec![0.0; len], if copies == 2 { vec![0.0; len] } else { Vec::new() }]
}

fn assert_close(got: &[f64], want: &[f64], what: &str) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{what}: element {i}: got {g}, want {w}");
    }
}

#[test]
fn sgd_with_momentum_and_decay_follows_its_formula() {
    let (mut p, g1, g2) = (filled(1, 1.0), filled(2, 0.5), filled(3, 0.5));
    let (lr, beta, wd) = (0.1, 0.9, 0.01);
    let mut opt = Sgd::new(beta as f32, wd as f32);
    let mut s = state(1);
    let (mut w, decays) = (flat(&p), is_weight_per_element());
    let mut m = vec![0.0; w.len()];
    for g in [&g1, &g2] {
        update(&mut opt, &mut p, g, &mut s, lr as f32, Frozen::NONE);
        for (i, gi) in flat(g).into_iter().enumerate() {
            let d = if decays[i] { wd } else { 0.0 };
            m[i] = beta * m[i] + gi + d * w[i];
            w[i] -= lr * m[i];
        }
    }
    assert_close(&flat(&p), &w, "sgd");
}

#[test]
fn adamw_follows_its_formula_with_bias_correction() {
    let (mut p, g1, g2) = (filled(4, 1.0), filled(5, 0.5), filled(6, 0.5));
    let (lr, wd) = (0.01, 0.1);
    let mut opt = AdamW::new(wd as f32);
    let mut s = state(2);
    let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8f64);
    let (mut w, decays) = (flat(&p), is_weight_per_element());
    let (mut m, mut v) = (vec![0.0; w.len()], vec![0.0; w.len()]);
    for (t, g) in [&g1, &g2].into_iter().enumerate() {
        update(&mut opt, &mut p, g, &mut s, lr as f32, Frozen::NONE);
        let t = (t + 1) as i32;
        for (i, gi) in flat(g).into_iter().enumerate() {
            if decays[i] {
                w[i] -= lr * wd * w[i];
            }
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let (mh, vh) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
            w[i] -= lr * mh / (vh.sqrt() + eps);
        }
    }
    assert_close(&flat(&p), &w, "adamw");
    assert_eq!(opt.steps(), 2);
}

#[test]
fn lars_scales_weight_updates_by_the_trust_ratio_and_leaves_biases_alone() {
    let (mut p, g) = (filled(7, 1.0), filled(8, 0.5));
    let before = p.clone();
    let (lr, wd) = (0.5f64, 0.01f64);
    let mut opt = Lars::new(wd as f32);
    update(&mut opt, &mut p, &g, &mut state(1), lr as f32, Frozen::NONE);
    for tensor in NET.tensors() {
        let r = tensor.range();
        let w = flat(&before[r.clone()]);
        let gi = flat(&g[r.clone()]);
        let want: Vec<f64> = if tensor.decays {
            let u: Vec<f64> = gi.iter().zip(&w).map(|(g, w)| g + wd * w).collect();
            let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
            let trust = 0.001 * norm(&w) / norm(&u);
            w.iter().zip(&u).map(|(w, u)| w - lr * trust * u).collect()
        } else {
            w.iter().zip(&gi).map(|(w, g)| w - lr * g).collect()
        };
        assert_close(&flat(&p[r]), &want, &format!("lars layer {} {}", tensor.layer, tensor.name()));
    }
}

#[test]
fn frozen_layers_are_skipped_by_every_optimiser() {
    let frozen = Frozen::NONE.with(3).with(4);
    let g = filled(9, 1.0);
    let check = |p: &[f32], before: &[f32]| {
        for t in NET.tensors() {
            let same = p[t.range()] == before[t.range()];
            assert_eq!(same, frozen.contains(t.layer), "layer {} {}", t.layer, t.name());
        }
    };
    let before = filled(10, 1.0);
    let mut p = before.clone();
    update(&mut Sgd::new(0.9, 0.1), &mut p, &g, &mut state(1), 0.1, frozen);
    check(&p, &before);
    let mut p = before.clone();
    update(&mut AdamW::new(0.1), &mut p, &g, &mut state(2), 0.1, frozen);
    check(&p, &before);
    let mut p = before.clone();
    update(&mut Lars::new(0.1), &mut p, &g, &mut state(1), 0.1, frozen);
    check(&p, &before);
}

#[test]
fn hyper_parameters_out_of_range_are_refused() {
    let (mut p, g) = (filled(11, 1.0), filled(12, 1.0));
    let before = p.clone();
    let mut s = state(2);
    let [m, v] = &mut s;
    for (name, result) in [
        ("negative lr", Sgd::new(0.9, 0.0).update(&tensors(), &mut p, &g, m, v, -1.0, Frozen::NONE)),
        ("NaN lr", AdamW::new(0.0).update(&tensors(), &mut p, &g, m, v, f32::NAN, Frozen::NONE)),
        ("momentum 1", Sgd::new(1.0, 0.0).update(&tensors(), &mut p, &g, m, v, 0.1, Frozen::NONE)),
        ("negative decay", Lars::new(-0.1).update(&tensors(), &mut p, &g, m, v, 0.1, Frozen::NONE)),
    ] {
        assert_eq!(result, Err(Error::InvalidConfig), "{name}");
    }
    assert_eq!(p, before);
}

#[test]
fn schedule_warms_up_linearly_then_follows_a_cosine() {
    let s = Schedule { base_lr: 1.0, final_lr: 0.1, warmup_steps: 4, total_steps: 104 };
    assert!((s.lr(0) - 0.25).abs() < 1e-6 && (s.lr(3) - 1.0).abs() < 1e-6);
    assert!((s.lr(4) - 1.0).abs() < 1e-6);
    let mid = 0.1 + 0.9 * 0.5 * (1.0 + (std::f32::consts::PI * 0.5).cos());
    assert!((s.lr(54) - mid).abs() < 1e-5);
    assert!((s.lr(104) - 0.1).abs() < 1e-6 && (s.lr(10_000) - 0.1).abs() < 1e-6);
    assert!((1..104).all(|t| s.lr(t) <= s.lr(t - 1) + 1e-6 || t <= 4));
    assert_eq!(Schedule::constant(0.3).lr(12345), 0.3);
}

#[test]
fn gaussian_draws_have_unit_variance_and_zero_mean() {
    let mut rng = Pcg32::new(42);
    let xs: Vec<f64> = (0..200_000).map(|_| f64::from(vicreg::gaussian(&mut rng))).collect();
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / xs.len() as f64;
    assert!(mean.abs() < 0.01 && (var - 1.0).abs() < 0.01, "mean {mean}, variance {var}");
}

#[test]
fn shift2d_moves_pixels_and_fills_with_zeros() {
    // A 5×4 image with one lit pixel; over many draws it lands only within
    // ±1 of its place, every in-range offset occurs, and nothing else is lit.
    let (w, h) = (5usize, 4usize);
    let aug = Shift2d { width: w, height: h, max_shift: 1 };
    let mut rng = Pcg32::new(1);
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..400 {
        let mut img = vec![0.0f32; w * h];
        img[2 * w + 2] = 1.0;
        aug.apply(&mut img, &mut rng).unwrap();
        let lit: Vec<usize> = (0..w * h).filter(|&i| img[i] != 0.0).collect();
        assert_eq!(lit.len(), 1, "{img:?}");
        let (y, x) = (lit[0] / w, lit[0] % w);
        assert!(y.abs_diff(2) <= 1 && x.abs_diff(2) <= 1);
        seen.insert((y, x));
    }
    assert_eq!(seen.len(), 9);
    assert_eq!(aug.apply(&mut [0.0; 19], &mut rng), Err(Error::ShapeMismatch));
}

#[test]
fn time_shift_and_crop_keep_channels_together() {
    // Two channels, channel-major: channel 0 counts time steps, channel 1
    // is its negative.
    let window: Vec<f32> = (0..10).map(|t| t as f32).chain((0..10).map(|t| -(t as f32))).collect();
    let mut rng = Pcg32::new(5);
    for _ in 0..50 {
        let mut w = window.clone();
        TimeShift { channels: 2, max_shift: 3 }.apply(&mut w, &mut rng).unwrap();
        let nonzero: Vec<usize> = (0..10).filter(|&t| w[t] != 0.0 || w[10 + t] != 0.0).collect();
        // A shift by s keeps 10 − |s| steps (step 0 is zero in both channels anyway).
        assert!(nonzero.len() >= 6, "{w:?}");
        for t in 0..10 {
            assert_eq!(w[t], -w[10 + t]);
        }
        let mut c = window.clone();
        TimeCrop { channels: 2, min_fraction: 0.5 }.apply(&mut c, &mut rng).unwrap();
        for t in 0..10 {
            assert_eq!(c[t], -c[10 + t]);
        }
        assert!(c[..10].windows(2).all(|p| p[1] >= p[0]), "crop keeps order: {c:?}");
    }
    let mut same = window.clone();
    TimeCrop { channels: 2, min_fraction: 1.0 }.apply(&mut same, &mut rng).unwrap();
    assert_eq!(same, window);
    assert_eq!(TimeShift { channels: 3, max_shift: 1 }.apply(&mut [0.0; 10], &mut rng), Err(Error::ShapeMismatch));
}

#[test]
fn view_pair_augments_each_view_independently() {
    let batch: Vec<[f32; 8]> = (0..6).map(|i| [i as f32; 8]).collect();
    let mut pair = ViewPair::<6, 8>::new();
    let mut rng = Pcg32::new(3);
    let aug = (Scale { low: 0.8, high: 1.2 }, Jitter { sigma: 0.05 }, Mask { probability: 0.25 });
    let (a, b) = pair.generate(&batch, &aug, &mut rng).unwrap();
    assert_ne!(a, b);
    let zeros = a.iter().chain(b).flatten().filter(|v| **v == 0.0).count();
    assert!(zeros > 0 && zeros < 2 * 6 * 8);
    assert_eq!(pair.generate(&[[0.0; 8]; 7], &aug, &mut rng).unwrap_err(), Error::TooManyRows { n: 7, capacity: 6 });
}

mod end_to_end {
    //! Each optimiser through a `Trainer`, five steps with weight decay:
    //! after every step the parameters equal an f64 re-implementation of the
    //! update rule applied to the gradients the trainer computed. Dropping
    //! the decay (or applying it to biases, or to BatchNorm's parameters)
    //! moves a weight by lr·λ·w ≈ 1e-4 per step, far past the tolerance.

    use super::NET;
    use host_tests::batches::SplitMix;
    use vicreg::{AdamW, Lars, Optimizer, Pcg32, Sgd, Trainer, TrainerConfig};

    vicreg::network!(Small = NET, batch 8);

    fn rows(seed: u64) -> Vec<[f32; 3]> {
        let mut rng = SplitMix::new(seed);
        (0..8).map(|_| core::array::from_fn(|_| rng.symmetric())).collect()
    }

    /// Runs five steps and, before each, hands the parameters and gradients
    /// (f64) to `rule`, which updates its own copy; compares after each.
    fn check<O: Optimizer>(optimizer: O, lr: f32, mut rule: impl FnMut(&mut [f64], &[f64], &[bool])) {
        let mut t: Box<Trainer<Small, O>> = Box::new(Trainer::new(TrainerConfig::new(lr), optimizer));
        t.init(&mut Pcg32::new(4));
        let decays: Vec<bool> = NET.tensors().flat_map(|t| std::iter::repeat_n(t.decays, t.len())).collect();
        let mut w: Vec<f64> = t.parameters().iter().map(|&v| f64::from(v)).collect();
        for step in 0..5 {
            let (a, b) = (rows(10 + step), rows(20 + step));
            t.step(&a, &b).unwrap();
            let g: Vec<f64> = t.gradients().iter().map(|&v| f64::from(v)).collect();
            rule(&mut w, &g, &decays);
            for (i, (got, want)) in t.parameters().iter().zip(&w).enumerate() {
                let got = f64::from(*got);
                assert!((got - want).abs() <= 2e-6 * (1.0 + want.abs()), "step {step}, parameter {i}: {got} vs {want}");
            }
        }
    }

    #[test]
    fn sgd_decays_weights_only() {
        let (lr, beta, wd) = (0.05, 0.9, 0.01);
        let mut m = vec![0.0; NET.parameter_count()];
        check(Sgd::new(beta as f32, wd as f32), lr as f32, |w, g, decays| {
            for i in 0..w.len() {
                let d = if decays[i] { wd } else { 0.0 };
                m[i] = beta * m[i] + g[i] + d * w[i];
                w[i] -= lr * m[i];
            }
        });
    }

    #[test]
    fn adamw_decays_weights_only_and_decoupled() {
        let (lr, wd, b1, b2, eps) = (0.01, 0.1, 0.9f64, 0.999f64, 1e-8f64);
        let (mut m, mut v, mut t) = (vec![0.0; NET.parameter_count()], vec![0.0; NET.parameter_count()], 0);
        check(AdamW::new(wd as f32), lr as f32, |w, g, decays| {
            t += 1;
            for i in 0..w.len() {
                if decays[i] {
                    w[i] -= lr * wd * w[i];
                }
                m[i] = b1 * m[i] + (1.0 - b1) * g[i];
                v[i] = b2 * v[i] + (1.0 - b2) * g[i] * g[i];
                let (mh, vh) = (m[i] / (1.0 - b1.powi(t)), v[i] / (1.0 - b2.powi(t)));
                w[i] -= lr * mh / (vh.sqrt() + eps);
            }
        });
    }

    #[test]
    fn lars_decays_and_scales_weights_only() {
        let (lr, wd) = (0.5, 0.01);
        let mut m = vec![0.0; NET.parameter_count()];
        let tensors: Vec<(std::ops::Range<usize>, bool)> = NET.tensors().map(|t| (t.range(), t.decays)).collect();
        check(Lars::new(wd as f32), lr as f32, |w, g, _| {
            for (r, decays) in &tensors {
                let (ws, gs) = (&w[r.clone()], &g[r.clone()]);
                let u: Vec<f64> = ws.iter().zip(gs).map(|(w, g)| if *decays { g + wd * w } else { *g }).collect();
                let norm = |x: &[f64]| x.iter().map(|v| v * v).sum::<f64>().sqrt();
                let trust = if *decays && norm(ws) > 0.0 && norm(&u) > 0.0 { 0.001 * norm(ws) / norm(&u) } else { 1.0 };
                for (k, i) in r.clone().enumerate() {
                    m[i] = 0.9 * m[i] + trust * u[k];
                    w[i] -= lr * m[i];
                }
            }
        });
    }
}
