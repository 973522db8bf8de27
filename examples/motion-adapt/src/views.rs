//! Augmentations for inertial windows (channel-major, accelerometer x y z
//! then gyroscope x y z): a random crop of the recording, a random rotation
//! of both 3-axis triples (the watch sits a little differently on the
//! wrist), a gain per channel (sensors differ), Gaussian jitter, and now and
//! then a silenced channel.

use crate::{CHANNELS, LENGTH};
use vicreg::{Pcg32, below, gaussian, symmetric_unit, uniform};

/// Samples per channel in a training window.
pub const WINDOW: usize = 96;
/// Values in a window.
pub const INPUT: usize = CHANNELS * WINDOW;

/// How two views of a recording differ.
#[derive(Clone, Copy, Debug)]
pub struct Recipe {
    /// Largest rotation about each axis, in degrees.
    pub rotation: f32,
    /// Range of the per-channel gain.
    pub gain: (f32, f32),
    /// Standard deviation of the additive noise.
    pub jitter: f32,
    /// Chance that a channel is zeroed.
    pub mask: f32,
}

/// The recipe the job trains with.
pub const RECIPE: Recipe = Recipe { rotation: 20.0, gain: (0.8, 1.2), jitter: 0.1, mask: 0.1 };

/// The window of `samples` (one recording) starting at `start`.
pub fn crop(samples: &[f32], start: usize) -> [f32; INPUT] {
    let mut out = [0.0; INPUT];
    for (c, dst) in out.chunks_exact_mut(WINDOW).enumerate() {
        dst.copy_from_slice(&samples[c * LENGTH + start..c * LENGTH + start + WINDOW]);
    }
    out
}

/// The centre window, which the probe reads.
pub fn centre(samples: &[f32]) -> [f32; INPUT] {
    crop(samples, (LENGTH - WINDOW) / 2)
}

/// A rotation matrix from three angles drawn in ±`degrees`.
fn rotation(rng: &mut Pcg32, degrees: f32) -> [[f32; 3]; 3] {
    let [a, b, c] = [0; 3].map(|_| degrees.to_radians() * symmetric_unit(rng));
    let (sa, ca, sb, cb, sc, cc) =
        (libm::sinf(a), libm::cosf(a), libm::sinf(b), libm::cosf(b), libm::sinf(c), libm::cosf(c));
    // Rz(a)·Ry(b)·Rx(c)
    [
        [ca * cb, ca * sb * sc - sa * cc, ca * sb * cc + sa * sc],
        [sa * cb, sa * sb * sc + ca * cc, sa * sb * cc - ca * sc],
        [-sb, cb * sc, cb * cc],
    ]
}

/// One augmented view of a recording.
pub fn view(samples: &[f32], rng: &mut Pcg32, recipe: &Recipe) -> [f32; INPUT] {
    let start = below(rng, (LENGTH - WINDOW + 1) as u32) as usize;
    let mut w = crop(samples, start);
    if recipe.rotation > 0.0 {
        // The same rotation turns both sensors: they sit in one case.
        let r = rotation(rng, recipe.rotation);
        for triple in 0..CHANNELS / 3 {
            for t in 0..WINDOW {
                let at = |axis: usize| (3 * triple + axis) * WINDOW + t;
                let v = [w[at(0)], w[at(1)], w[at(2)]];
                for (axis, row) in r.iter().enumerate() {
                    w[at(axis)] = row[0] * v[0] + row[1] * v[1] + row[2] * v[2];
                }
            }
        }
    }
    for channel in w.chunks_exact_mut(WINDOW) {
        let gain = recipe.gain.0 + (recipe.gain.1 - recipe.gain.0) * uniform(rng);
        let silenced = uniform(rng) < recipe.mask;
        for v in channel.iter_mut() {
            *v = if silenced { 0.0 } else { gain * *v + recipe.jitter * gaussian(rng) };
        }
    }
    w
}
