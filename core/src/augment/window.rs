//! Augmentations of a C×T window laid out channel-major, as a
//! [`Shape::Map`](crate::nn::Shape::Map) is: channel c's T samples at
//! `c·T..(c + 1)·T`. Each names its channels; a sample whose length is not
//! a whole number of channels is refused before anything is drawn.

use super::{Augment, signed_draw};
use crate::Error;
use crate::rng::{below, symmetric_unit, uniform};
use rand_core::RngCore;

/// Samples per channel in `len` values of `channels` channels.
fn length_of(len: usize, channels: usize) -> Result<usize, Error> {
    if channels == 0 || !len.is_multiple_of(channels) {
        return Err(Error::ShapeMismatch);
    }
    Ok(len / channels)
}

/// Shifts every channel of a window in time by one whole number of steps
/// drawn uniformly from [−`max_shift`, `max_shift`], filling with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeShift {
    /// Channels C of the window.
    pub channels: usize,
    /// Largest shift, in steps.
    pub max_shift: usize,
}

impl Augment for TimeShift {
    fn fits(&self, len: usize) -> Result<(), Error> {
        length_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = length_of(sample.len(), self.channels)?;
        let shift = signed_draw(rng, self.max_shift.min(steps));
        let offset = shift.unsigned_abs();
        if steps == 0 || offset == 0 {
            return Ok(());
        }
        // Shifting the whole buffer moves every row at once; what crossed
        // from one row into the next is then zeroed, as the fill of each row.
        let len = sample.len();
        if shift > 0 {
            sample.copy_within(..len - offset, offset);
            for row in sample.chunks_exact_mut(steps) {
                row[..offset].iter_mut().for_each(|v| *v = 0.0);
            }
        } else {
            sample.copy_within(offset.., 0);
            for row in sample.chunks_exact_mut(steps) {
                row[steps - offset..].iter_mut().for_each(|v| *v = 0.0);
            }
        }
        Ok(())
    }
}

/// Window slicing: keeps a random contiguous stretch of at least
/// `min_fraction` of the window (the same steps of every channel) and
/// stretches it back over the whole window by linear interpolation.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeCrop {
    /// Channels C of the window.
    pub channels: usize,
    /// Shortest kept stretch, as a fraction of the window (0 to 1].
    pub min_fraction: f32,
}

impl Augment for TimeCrop {
    fn fits(&self, len: usize) -> Result<(), Error> {
        length_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = length_of(sample.len(), self.channels)?;
        if steps < 2 {
            return Ok(());
        }
        let fraction = self.min_fraction.clamp(0.0, 1.0);
        let fraction = fraction + (1.0 - fraction) * uniform(rng);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let kept = ((fraction * steps as f32) as usize).clamp(2, steps);
        let start = below(rng, u32::try_from(steps - kept + 1).unwrap_or(u32::MAX)) as usize;
        // Output step t reads kept-stretch position p = t·(kept − 1)/(steps − 1)
        // ≤ t: walking t downwards never reads a step already overwritten.
        let ratio = (kept - 1) as f32 / (steps - 1) as f32;
        for row in sample.chunks_exact_mut(steps) {
            row.copy_within(start..start + kept, 0);
            for t in (0..steps).rev() {
                let p = t as f32 * ratio;
                #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                let i = (p as usize).min(kept - 1);
                let (w, next) = (p - i as f32, (i + 1).min(kept - 1));
                let lo = row[i];
                // At w = 0 the next step may already be overwritten: skip it.
                row[t] = if w > 0.0 { lo + w * (row[next] - lo) } else { lo };
            }
        }
        Ok(())
    }
}

/// Multiplies each channel by its own factor drawn uniformly from
/// [`low`, `high`) (sensors of one kind differ in gain).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelScale {
    /// Channels C of the window.
    pub channels: usize,
    /// Smallest factor.
    pub low: f32,
    /// Largest factor.
    pub high: f32,
}

impl Augment for ChannelScale {
    fn fits(&self, len: usize) -> Result<(), Error> {
        length_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = length_of(sample.len(), self.channels)?;
        for row in sample.chunks_exact_mut(steps.max(1)) {
            let factor = self.low + (self.high - self.low) * uniform(rng);
            for v in row {
                *v *= factor;
            }
        }
        Ok(())
    }
}

/// Silences each channel (sets it to zero) with probability `probability`
/// (a sensor that drops out).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ChannelDrop {
    /// Channels C of the window.
    pub channels: usize,
    /// Chance that a channel is silenced.
    pub probability: f32,
}

impl Augment for ChannelDrop {
    fn fits(&self, len: usize) -> Result<(), Error> {
        length_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        let steps = length_of(sample.len(), self.channels)?;
        for row in sample.chunks_exact_mut(steps.max(1)) {
            if uniform(rng) < self.probability {
                row.fill(0.0);
            }
        }
        Ok(())
    }
}

/// Turns every consecutive triple of channels (x, y, z of an accelerometer,
/// of a gyroscope) by one random rotation R = R_z(a)·R_y(b)·R_x(c), the
/// three angles drawn uniformly in ±`max_degrees`: a device worn a little
/// differently. Sensors in one case turn together, so every triple gets the
/// same R. The channels must be a multiple of three.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rotate3 {
    /// Channels C of the window, a multiple of 3.
    pub channels: usize,
    /// Largest angle about each axis, in degrees.
    pub max_degrees: f32,
}

impl Rotate3 {
    /// R_z(a)·R_y(b)·R_x(c) for angles in radians.
    #[must_use]
    pub fn matrix([a, b, c]: [f32; 3]) -> [[f32; 3]; 3] {
        let (sa, ca, sb, cb, sc, cc) =
            (libm::sinf(a), libm::cosf(a), libm::sinf(b), libm::cosf(b), libm::sinf(c), libm::cosf(c));
        [
            [ca * cb, ca * sb * sc - sa * cc, ca * sb * cc + sa * sc],
            [sa * cb, sa * sb * sc + ca * cc, sa * sb * cc - ca * sc],
            [-sb, cb * sc, cb * cc],
        ]
    }
}

impl Augment for Rotate3 {
    fn fits(&self, len: usize) -> Result<(), Error> {
        if !self.channels.is_multiple_of(3) {
            return Err(Error::ShapeMismatch);
        }
        length_of(len, self.channels).map(|_| ())
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        let steps = sample.len() / self.channels;
        let angles = [0; 3].map(|_| self.max_degrees.to_radians() * symmetric_unit(rng));
        let r = Self::matrix(angles);
        if steps == 0 {
            return Ok(());
        }
        for triple in sample.chunks_exact_mut(3 * steps) {
            let (x, rest) = triple.split_at_mut(steps);
            let (y, z) = rest.split_at_mut(steps);
            for ((x, y), z) in x.iter_mut().zip(y.iter_mut()).zip(z.iter_mut()) {
                let v = [*x, *y, *z];
                let turned = r.map(|row| row[0] * v[0] + row[1] * v[1] + row[2] * v[2]);
                [*x, *y, *z] = turned;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// Shifts and slices copy values exactly, and the casts are of small test
// indices.
#[allow(clippy::float_cmp, clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_possible_truncation)]
mod tests {
    //! Each augmentation against what it promises, with the draw recovered
    //! from the output (channel c at `c·T + t`): the exact transformation for
    //! some draw in range, and over many draws every value of the range.

    use super::*;
    use crate::rng::Pcg32;

    /// Two channels of `steps` samples holding t + 1 and −(t + 1).
    fn ramps<const L: usize>() -> [f32; L] {
        let steps = L / 2;
        core::array::from_fn(|i| if i < steps { i as f32 + 1.0 } else { -((i - steps) as f32 + 1.0) })
    }

    /// The shift s with `out[c][t] = input[c][t − s]` (zeros where t − s is
    /// outside) for [`ramps`]; None if no shift explains it.
    fn recovered_shift(out: &[f32], steps: usize) -> Option<isize> {
        (-(steps as isize)..=steps as isize).find(|&s| {
            (0..steps).all(|t| {
                let source = t as isize - s;
                let want = if (0..steps as isize).contains(&source) { source as f32 + 1.0 } else { 0.0 };
                out[t] == want && out[steps + t] == -want
            })
        })
    }

    #[test]
    fn time_shift_moves_every_channel_by_every_shift_in_range() {
        let mut rng = Pcg32::new(5);
        let mut seen = [false; 7];
        for _ in 0..300 {
            let mut w: [f32; 20] = ramps();
            TimeShift { channels: 2, max_shift: 3 }.apply(&mut w, &mut rng).unwrap();
            let s = recovered_shift(&w, 10).unwrap_or_else(|| panic!("not a shift: {w:?}"));
            assert!(s.abs() <= 3, "{s}");
            seen[(s + 3) as usize] = true;
        }
        assert_eq!(seen, [true; 7]);
        // A shift as long as the window empties it, never reads outside.
        let mut short = [1.0f32, 2.0, -1.0, -2.0];
        for _ in 0..20 {
            TimeShift { channels: 2, max_shift: 9 }.apply(&mut short, &mut rng).unwrap();
            assert!(recovered_shift(&short, 2).is_some() || short == [0.0; 4]);
        }
        assert_eq!(TimeShift { channels: 3, max_shift: 1 }.apply(&mut [0.0; 10], &mut rng), Err(Error::ShapeMismatch));
        assert_eq!(TimeShift { channels: 0, max_shift: 1 }.fits(4), Err(Error::ShapeMismatch));
    }

    #[test]
    fn time_crop_stretches_one_stretch_of_every_channel_over_the_window() {
        // Channel 0 holds t, channel 1 holds 100 − 2t: after a crop of
        // `kept` steps from `start`, output step t holds the input at
        // p = start + t·(kept − 1)/(steps − 1), in both channels.
        let steps = 10;
        let mut rng = Pcg32::new(8);
        let (mut lengths, mut starts) = ([0usize; 11], [false; 6]);
        for _ in 0..300 {
            let mut w: [f32; 20] =
                core::array::from_fn(|i| if i < steps { i as f32 } else { 100.0 - 2.0 * (i - steps) as f32 });
            TimeCrop { channels: 2, min_fraction: 0.5 }.apply(&mut w, &mut rng).unwrap();
            let (start, end) = (w[0], w[steps - 1]);
            assert_eq!(start.fract(), 0.0, "{w:?}");
            let kept = (end - start) as usize + 1;
            assert!((5..=steps).contains(&kept) && start as usize + kept <= steps, "start {start}, kept {kept}");
            for t in 0..steps {
                let p = start + t as f32 * (kept - 1) as f32 / (steps - 1) as f32;
                assert!((w[t] - p).abs() < 1e-5 && (w[steps + t] - (100.0 - 2.0 * p)).abs() < 1e-4, "t {t}: {w:?}");
            }
            lengths[kept] += 1;
            starts[start as usize] = true;
        }
        // The kept fraction is uniform in [0.5, 1): 5 to 9 of the 10 steps,
        // each about a fifth of the time, never all 10.
        assert!(lengths[5..10].iter().all(|&k| (35..=85).contains(&k)) && lengths[10] == 0, "kept lengths {lengths:?}");
        assert_eq!(starts, [true; 6]);
        // A window of one step is left as it is; a ragged one is refused.
        let mut one = [3.0f32, 4.0];
        TimeCrop { channels: 2, min_fraction: 0.1 }.apply(&mut one, &mut rng).unwrap();
        assert_eq!(one, [3.0, 4.0]);
        assert_eq!(TimeCrop { channels: 2, min_fraction: 0.5 }.fits(5), Err(Error::ShapeMismatch));
    }

    #[test]
    fn channel_scale_gives_each_channel_its_own_factor_in_range() {
        let mut rng = Pcg32::new(6);
        let (mut lowest, mut highest, mut differ) = (f32::MAX, f32::MIN, 0);
        for _ in 0..200 {
            let mut w = [1.0f32, 2.0, 4.0, -1.0, -2.0, -4.0];
            ChannelScale { channels: 2, low: 0.5, high: 1.5 }.apply(&mut w, &mut rng).unwrap();
            let (f0, f1) = (w[0], -w[3]);
            assert_eq!(w, [f0, 2.0 * f0, 4.0 * f0, -f1, -2.0 * f1, -4.0 * f1]);
            for f in [f0, f1] {
                assert!((0.5..1.5).contains(&f), "{f}");
                (lowest, highest) = (lowest.min(f), highest.max(f));
            }
            differ += usize::from(f0 != f1);
        }
        assert!(lowest < 0.55 && highest > 1.45 && differ > 190, "{lowest}…{highest}, {differ}");
        assert_eq!(ChannelScale { channels: 4, low: 1.0, high: 1.0 }.fits(6), Err(Error::ShapeMismatch));
    }

    #[test]
    fn channel_drop_silences_whole_channels_at_the_given_rate() {
        let mut rng = Pcg32::new(7);
        let (mut dropped, mut total) = (0, 0);
        for _ in 0..500 {
            let original: [f32; 12] = core::array::from_fn(|i| i as f32 + 1.0);
            let mut w = original;
            ChannelDrop { channels: 4, probability: 0.25 }.apply(&mut w, &mut rng).unwrap();
            for (row, before) in w.chunks_exact(3).zip(original.chunks_exact(3)) {
                assert!(row == [0.0; 3] || row == before, "{row:?}");
                dropped += usize::from(row == [0.0; 3]);
                total += 1;
            }
        }
        let rate = dropped as f32 / total as f32;
        assert!((rate - 0.25).abs() < 0.03, "{rate}");
        assert_eq!(ChannelDrop { channels: 0, probability: 0.5 }.fits(3), Err(Error::ShapeMismatch));
    }

    #[test]
    fn rotate3_matrix_is_the_product_of_the_three_axis_rotations() {
        // R_z(a)·R_y(b)·R_x(c), multiplied out here in f64 from the three
        // textbook matrices.
        fn product(a: f64, b: f64, c: f64) -> [[f64; 3]; 3] {
            let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
            let ry = [[b.cos(), 0.0, b.sin()], [0.0, 1.0, 0.0], [-b.sin(), 0.0, b.cos()]];
            let rx = [[1.0, 0.0, 0.0], [0.0, c.cos(), -c.sin()], [0.0, c.sin(), c.cos()]];
            let mul = |p: [[f64; 3]; 3], q: [[f64; 3]; 3]| {
                core::array::from_fn(|i| core::array::from_fn(|j| (0..3).map(|k| p[i][k] * q[k][j]).sum()))
            };
            mul(mul(rz, ry), rx)
        }
        for angles in [[0.3f32, -0.7, 1.1], [-1.2, 0.4, -0.25], [2.0, 1.3, -2.5]] {
            let got = Rotate3::matrix(angles);
            let want = product(f64::from(angles[0]), f64::from(angles[1]), f64::from(angles[2]));
            for (g, w) in got.iter().flatten().zip(want.iter().flatten()) {
                assert!((f64::from(*g) - w).abs() < 1e-6, "{angles:?}: {got:?} against {want:?}");
            }
        }
    }

    #[test]
    fn rotate3_turns_every_triple_by_one_rotation_within_range() {
        // A hand-worked case: a quarter turn about z takes x to y and y to −x.
        let quarter = Rotate3::matrix([core::f32::consts::FRAC_PI_2, 0.0, 0.0]);
        let turned = quarter.map(|row| row[0]);
        assert!((turned[0]).abs() < 1e-6 && (turned[1] - 1.0).abs() < 1e-6 && turned[2].abs() < 1e-6);
        let mut rng = Pcg32::new(9);
        let mut largest = 0.0f32;
        for _ in 0..200 {
            // Two triples (six channels) of two steps: unit vectors along x
            // and y in the first triple, the same in the second.
            let mut w = [0.0f32; 12];
            for triple in 0..2 {
                w[triple * 6] = 1.0; // x at t = 0
                w[triple * 6 + 3] = 1.0; // y at t = 1
            }
            Rotate3 { channels: 6, max_degrees: 20.0 }.apply(&mut w, &mut rng).unwrap();
            // Both triples turned alike, lengths kept, and x·y stays 0.
            assert_eq!(w[..6], w[6..]);
            let x = [w[0], w[2], w[4]];
            let y = [w[1], w[3], w[5]];
            let dot = |a: [f32; 3], b: [f32; 3]| a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
            assert!((dot(x, x) - 1.0).abs() < 1e-5 && (dot(y, y) - 1.0).abs() < 1e-5 && dot(x, y).abs() < 1e-5);
            // The angle x turned through is at most what three 20° turns give.
            let angle = libm::acosf(x[0].clamp(-1.0, 1.0)).to_degrees();
            assert!(angle <= 35.0, "{angle}");
            largest = largest.max(angle);
        }
        assert!(largest > 15.0, "the rotations stay small: {largest}");
        // No rotation at all with a range of zero; channels not in triples
        // are refused.
        let mut w: [f32; 6] = core::array::from_fn(|i| i as f32);
        Rotate3 { channels: 3, max_degrees: 0.0 }.apply(&mut w, &mut rng).unwrap();
        assert_eq!(w, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(Rotate3 { channels: 4, max_degrees: 1.0 }.apply(&mut [0.0; 8], &mut rng), Err(Error::ShapeMismatch));
    }
}
