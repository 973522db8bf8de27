//! Augmentations of a C×H×W image laid out channel-major then row-major, as
//! a [`Shape::Image`](crate::nn::Shape::Image) is: pixel (c, y, x) at
//! `(c·H + y)·W + x`.

use super::{Augment, signed_draw};
use crate::Error;
use crate::rng::{below, uniform};
use rand_core::RngCore;

/// Planes of `width` × `height` pixels that tile a sample of `len` values.
fn planes(width: usize, height: usize, len: usize) -> Result<usize, Error> {
    match width.checked_mul(height) {
        Some(plane) if plane > 0 && len.is_multiple_of(plane) => Ok(plane),
        _ => Err(Error::ShapeMismatch),
    }
}

/// Whether `p` is a probability.
fn probability(p: f32) -> Result<(), Error> {
    if (0.0..=1.0).contains(&p) { Ok(()) } else { Err(Error::InvalidConfig) }
}

/// Mirrors every plane left to right with probability `probability`
/// (torchvision's horizontal flip). Off in the digits' recipe: a mirrored
/// 2 is not a 2.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FlipHorizontal {
    /// Pixels per row W.
    pub width: usize,
    /// Rows H.
    pub height: usize,
    /// Chance of a flip.
    pub probability: f32,
}

impl Augment for FlipHorizontal {
    fn fits(&self, len: usize) -> Result<(), Error> {
        planes(self.width, self.height, len)?;
        probability(self.probability)
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        if uniform(rng) < self.probability {
            for row in sample.chunks_exact_mut(self.width) {
                row.reverse();
            }
        }
        Ok(())
    }
}

/// Random erasing: with probability `probability`, one square of side
/// drawn from `sides` (inclusive, at most the image's smaller side) set to
/// zero in every channel, anywhere it fits.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Erase {
    /// Pixels per row W.
    pub width: usize,
    /// Rows H.
    pub height: usize,
    /// Smallest and largest side, in pixels (1 ≤ min ≤ max).
    pub sides: (usize, usize),
    /// Chance of an erasure.
    pub probability: f32,
}

impl Augment for Erase {
    fn fits(&self, len: usize) -> Result<(), Error> {
        planes(self.width, self.height, len)?;
        probability(self.probability)?;
        let (lo, hi) = self.sides;
        if lo >= 1 && lo <= hi && hi <= self.width.min(self.height) { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        if uniform(rng) >= self.probability {
            return Ok(());
        }
        let (w, h, (lo, hi)) = (self.width, self.height, self.sides);
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let side = lo + below(rng, count(hi - lo + 1)) as usize;
        let (x0, y0) = (below(rng, count(w - side + 1)) as usize, below(rng, count(h - side + 1)) as usize);
        for plane in sample.chunks_exact_mut(w * h) {
            for row in plane.chunks_exact_mut(w).skip(y0).take(side) {
                row[x0..x0 + side].fill(0.0);
            }
        }
        Ok(())
    }
}

/// Contrast: each plane drawn towards or away from its own mean,
/// x ← m + f·(x − m), with one factor f uniform in [`low`, `high`) for the
/// image.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Contrast {
    /// Pixels per row W.
    pub width: usize,
    /// Rows H.
    pub height: usize,
    /// Smallest factor.
    pub low: f32,
    /// Largest factor.
    pub high: f32,
}

impl Augment for Contrast {
    fn fits(&self, len: usize) -> Result<(), Error> {
        planes(self.width, self.height, len)?;
        let ok = self.low.is_finite() && self.high.is_finite() && 0.0 <= self.low && self.low <= self.high;
        if ok { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        let f = self.low + (self.high - self.low) * uniform(rng);
        for plane in sample.chunks_exact_mut(self.width * self.height) {
            let mean = plane.iter().sum::<f32>() / plane.len() as f32;
            for v in plane.iter_mut() {
                *v = mean + f * (*v - mean);
            }
        }
        Ok(())
    }
}

/// Shifts every plane of a `width` × `height` image (any number of
/// channels) by one offset of up to `max_shift` pixels along each axis,
/// filling with zeros.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shift2d {
    /// Pixels per row W.
    pub width: usize,
    /// Rows H.
    pub height: usize,
    /// Largest shift along each axis.
    pub max_shift: usize,
}

impl Augment for Shift2d {
    fn fits(&self, len: usize) -> Result<(), Error> {
        match self.width.checked_mul(self.height) {
            Some(plane) if plane > 0 && len.is_multiple_of(plane) => Ok(()),
            _ => Err(Error::ShapeMismatch),
        }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        let (w, h) = (self.width, self.height);
        let dx = signed_draw(rng, self.max_shift.min(w));
        let dy = signed_draw(rng, self.max_shift.min(h));
        for plane in sample.chunks_exact_mut(w * h) {
            // out[y][x] = in[y − dy][x − dx]: walk each axis against the
            // shift so a source pixel is read before it is overwritten.
            for yi in 0..h {
                let y = if dy > 0 { h - 1 - yi } else { yi };
                for xi in 0..w {
                    let x = if dx > 0 { w - 1 - xi } else { xi };
                    let (sy, sx) = (y.checked_add_signed(-dy), x.checked_add_signed(-dx));
                    plane[y * w + x] = match (sy, sx) {
                        (Some(sy), Some(sx)) if sy < h && sx < w => plane[sy * w + sx],
                        _ => 0.0,
                    };
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
// Shifts copy values exactly; the casts are of small test indices.
#[allow(clippy::float_cmp, clippy::cast_possible_wrap, clippy::cast_sign_loss, clippy::cast_precision_loss)]
mod tests {
    use super::*;
    use crate::rng::Pcg32;

    /// Two 4×3 planes, the second the first negated.
    fn image() -> [f32; 24] {
        core::array::from_fn(|i| if i < 12 { i as f32 + 1.0 } else { -((i - 12) as f32 + 1.0) })
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn a_flip_mirrors_each_row_or_leaves_the_image() {
        let mut rng = Pcg32::new(2);
        let flip = FlipHorizontal { width: 4, height: 3, probability: 1.0 };
        let mut out = image();
        flip.apply(&mut out, &mut rng).unwrap();
        for (i, &v) in out.iter().enumerate() {
            let (row, x) = (i / 4, i % 4);
            assert_eq!(v, image()[row * 4 + 3 - x], "{i}");
        }
        let mut same = image();
        FlipHorizontal { probability: 0.0, ..flip }.apply(&mut same, &mut rng).unwrap();
        assert_eq!(same, image());
        let (mut flips, half) = (0, FlipHorizontal { probability: 0.5, ..flip });
        for _ in 0..1000 {
            let mut out = image();
            half.apply(&mut out, &mut rng).unwrap();
            flips += usize::from(out != image());
        }
        assert!((400..600).contains(&flips), "{flips}");
        for bad in [FlipHorizontal { probability: 1.5, ..flip }, FlipHorizontal { probability: f32::NAN, ..flip }] {
            assert_eq!(bad.apply(&mut same, &mut rng), Err(Error::InvalidConfig));
        }
        assert_eq!(flip.apply(&mut same[..23], &mut rng), Err(Error::ShapeMismatch));
        assert_eq!(FlipHorizontal { width: 0, ..flip }.fits(0), Err(Error::ShapeMismatch));
        assert_eq!(same, image());
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn an_erasure_zeroes_one_square_in_every_channel() {
        let mut rng = Pcg32::new(5);
        let erase = Erase { width: 4, height: 3, sides: (2, 3), probability: 1.0 };
        let mut seen = [false; 2];
        for _ in 0..200 {
            let mut out = image();
            erase.apply(&mut out, &mut rng).unwrap();
            let zeros: [bool; 12] = core::array::from_fn(|i| out[i] == 0.0);
            // The same pixels in both channels, a square of side 2 or 3 at
            // one corner (x0, y0), and everything else as it was.
            let side = (2..=3).find(|&s| zeros.iter().filter(|&&z| z).count() == s * s).expect("a square");
            seen[side - 2] = true;
            let first = zeros.iter().position(|&z| z).unwrap();
            let (x0, y0) = (first % 4, first / 4);
            for i in 0..12 {
                let inside = (x0..x0 + side).contains(&(i % 4)) && (y0..y0 + side).contains(&(i / 4));
                assert_eq!(zeros[i], inside, "{i}");
                assert_eq!(out[12 + i] == 0.0, inside);
                if !inside {
                    assert_eq!((out[i], out[12 + i]), (image()[i], image()[12 + i]));
                }
            }
        }
        assert_eq!(seen, [true, true]);
        // On a 6×5 plane, sides 1 to 3 and every corner that fits are drawn.
        let wide = Erase { width: 6, height: 5, sides: (1, 3), probability: 1.0 };
        let mut corners = [[[false; 6]; 5]; 3];
        for _ in 0..3000 {
            let mut out = [1.0f32; 30];
            wide.apply(&mut out, &mut rng).unwrap();
            let side = (1..=3).find(|&s| out.iter().filter(|&&v| v == 0.0).count() == s * s).expect("a square");
            let first = out.iter().position(|&v| v == 0.0).unwrap();
            corners[side - 1][first / 6][first % 6] = true;
        }
        for side in 1..=3 {
            for (y, row) in corners[side - 1].iter().enumerate() {
                for (x, &drawn) in row.iter().enumerate() {
                    assert_eq!(drawn, x + side <= 6 && y + side <= 5, "side {side} at ({x}, {y})");
                }
            }
        }
        let mut same = image();
        Erase { probability: 0.0, ..erase }.apply(&mut same, &mut rng).unwrap();
        assert_eq!(same, image());
        for bad in [
            Erase { sides: (0, 2), ..erase },
            Erase { sides: (3, 2), ..erase },
            Erase { sides: (2, 4), ..erase },
            Erase { probability: -0.1, ..erase },
        ] {
            assert_eq!(bad.apply(&mut same, &mut rng), Err(Error::InvalidConfig), "{bad:?}");
        }
        assert_eq!(same, image());
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn contrast_scales_each_planes_deviations_from_its_mean_by_one_factor() {
        let mut rng = Pcg32::new(8);
        let contrast = Contrast { width: 4, height: 3, low: 0.5, high: 1.5 };
        let (mut lowest, mut highest) = (f32::MAX, f32::MIN);
        for _ in 0..500 {
            let mut out = image();
            contrast.apply(&mut out, &mut rng).unwrap();
            // Plane means: 6.5 and −6.5; pixel 0 deviates by −5.5 and +5.5.
            let f = (out[0] - 6.5) / -5.5;
            assert!((0.5 - 1e-5..1.5 + 1e-5).contains(&f), "{f}");
            for i in 0..12 {
                assert!((out[i] - (6.5 + f * (image()[i] - 6.5))).abs() < 1e-5, "{i}");
                assert!((out[12 + i] - (-6.5 + f * (image()[12 + i] + 6.5))).abs() < 1e-5, "{i}");
            }
            (lowest, highest) = (lowest.min(f), highest.max(f));
        }
        assert!(lowest < 0.55 && highest > 1.45, "{lowest} {highest}");
        let mut same = image();
        Contrast { low: 1.0, high: 1.0, ..contrast }.apply(&mut same, &mut rng).unwrap();
        assert_eq!(same, image());
        for bad in [Contrast { low: 2.0, high: 1.0, ..contrast }, Contrast { low: -1.0, ..contrast }] {
            assert_eq!(bad.apply(&mut same, &mut rng), Err(Error::InvalidConfig));
        }
        assert_eq!(Contrast { width: 5, ..contrast }.apply(&mut same, &mut rng), Err(Error::ShapeMismatch));
    }

    #[test]
    fn shift2d_moves_every_plane_by_one_offset_in_range() {
        let (w, h) = (5usize, 4usize);
        // Two planes: the second is the first negated.
        let image: [f32; 40] = core::array::from_fn(|i| if i < 20 { i as f32 + 1.0 } else { -((i - 20) as f32 + 1.0) });
        let mut rng = Pcg32::new(1);
        let mut seen = [[false; 3]; 3];
        for _ in 0..300 {
            let mut out = image;
            Shift2d { width: w, height: h, max_shift: 1 }.apply(&mut out, &mut rng).unwrap();
            let found = (-1isize..=1).flat_map(|dy| (-1isize..=1).map(move |dx| (dy, dx))).find(|&(dy, dx)| {
                (0..h * w).all(|i| {
                    let (sy, sx) = ((i / w) as isize - dy, (i % w) as isize - dx);
                    let inside = (0..h as isize).contains(&sy) && (0..w as isize).contains(&sx);
                    let want = if inside { image[sy as usize * w + sx as usize] } else { 0.0 };
                    out[i] == want && out[20 + i] == -want
                })
            });
            let (dy, dx) = found.unwrap_or_else(|| panic!("not a shift: {out:?}"));
            seen[(dy + 1) as usize][(dx + 1) as usize] = true;
        }
        assert_eq!(seen, [[true; 3]; 3]);
        let shift = Shift2d { width: w, height: h, max_shift: 1 };
        assert_eq!((shift.fits(20), shift.fits(40)), (Ok(()), Ok(())));
        assert_eq!(shift.fits(19), Err(Error::ShapeMismatch));
        assert_eq!(Shift2d { width: 0, height: h, max_shift: 1 }.fits(0), Err(Error::ShapeMismatch));
        // A shift of zero leaves the image as it is.
        let mut same = image;
        Shift2d { width: w, height: h, max_shift: 0 }.apply(&mut same, &mut rng).unwrap();
        assert_eq!(same, image);
    }
}
