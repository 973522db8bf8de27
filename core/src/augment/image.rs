//! Augmentations of a C×H×W image laid out channel-major then row-major, as
//! a [`Shape::Image`](crate::nn::Shape::Image) is: pixel (c, y, x) at
//! `(c·H + y)·W + x`.

use super::{Augment, signed_draw};
use crate::Error;
use rand_core::RngCore;

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
#[allow(clippy::float_cmp, clippy::cast_possible_wrap, clippy::cast_sign_loss)]
mod tests {
    use super::*;
    use crate::rng::Pcg32;

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
