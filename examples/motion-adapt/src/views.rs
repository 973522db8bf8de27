//! Augmentations for inertial windows (channel-major, accelerometer x y z
//! then gyroscope x y z): a random crop of the recording, a random rotation
//! of both 3-axis triples (the watch sits a little differently on the
//! wrist), a gain per channel (sensors differ), Gaussian jitter, and now and
//! then a silenced channel.

use crate::{CHANNELS, LENGTH};
use vicreg::augment::{Augment, ChannelDrop, ChannelScale, Jitter, Rotate3};
use vicreg::{Pcg32, below};

/// Samples per channel in a training window.
pub const WINDOW: usize = 96;
/// Values in a window.
pub const INPUT: usize = CHANNELS * WINDOW;

// Both sensors turn as 3-axis triples.
const _: () = assert!(CHANNELS.is_multiple_of(3));

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

/// One augmented view of a recording: a random window of it, then the
/// core's channel-major augmentations in the recipe's order (one rotation
/// of both sensors, a gain per channel, jitter, now and then a silenced
/// channel).
pub fn view(samples: &[f32], rng: &mut Pcg32, recipe: &Recipe) -> [f32; INPUT] {
    let start = below(rng, (LENGTH - WINDOW + 1) as u32) as usize;
    let mut w = crop(samples, start);
    let augment = (
        Rotate3 { channels: CHANNELS, max_degrees: recipe.rotation },
        ChannelScale { channels: CHANNELS, low: recipe.gain.0, high: recipe.gain.1 },
        Jitter { sigma: recipe.jitter },
        ChannelDrop { channels: CHANNELS, probability: recipe.mask },
    );
    // The window is CHANNELS whole rows (CHANNELS is a multiple of three):
    // nothing here can refuse it.
    let _ = augment.apply(&mut w, rng);
    w
}
