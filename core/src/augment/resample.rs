//! Random resized crops with rotation, as one bilinear resampling of each
//! plane of a C×H×W image (the paper's first view transformation, with a
//! small rotation as the digits need): a crop of the image, its area a
//! fraction s of the image's and its aspect r relative to the image's own
//! (a crop of W·√(s·r) by H·√(s/r) pixels), centred anywhere it fits, turned
//! by θ about its centre, and stretched back to W × H.
//!
//! Output pixel (x, y) reads the image at
//!
//! (u, v) = centre + R(θ)·((x + ½ − W/2)·w/W, (y + ½ − H/2)·h/H) − (½, ½)
//!
//! in pixel indices (pixel centres at half-integers, as
//! `torch.nn.functional.grid_sample` with `align_corners = False`), with
//! bilinear weights and zeros outside the image.

use super::Augment;
use crate::Error;
use crate::rng::{symmetric_unit, uniform};
use rand_core::RngCore;

/// One drawn crop, in pixels of the source image: where its centre is, its
/// width and height, and its turn in radians (counter-clockwise as seen with
/// rows going down, from +x towards +y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crop {
    /// Centre (x, y), in pixels from the image's top-left corner.
    pub centre: (f32, f32),
    /// Width and height of the crop.
    pub size: (f32, f32),
    /// θ in radians.
    pub angle: f32,
}

impl Crop {
    /// The whole image, unturned: resampling with it changes nothing.
    #[must_use]
    pub fn whole(width: usize, height: usize) -> Self {
        let (w, h) = (width as f32, height as f32);
        Self { centre: (w / 2.0, h / 2.0), size: (w, h), angle: 0.0 }
    }

    /// Resamples `source` (one H×W plane, row-major) into `out` (the same
    /// size) through this crop.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if either is not `width`·`height` long (or
    /// that is zero); [`Error::InvalidConfig`] for a crop that is not finite
    /// or not of positive size. `out` is unchanged then.
    pub fn resample(&self, source: &[f32], width: usize, height: usize, out: &mut [f32]) -> Result<(), Error> {
        let plane = width.checked_mul(height).filter(|&p| p > 0).ok_or(Error::ShapeMismatch)?;
        if source.len() != plane || out.len() != plane {
            return Err(Error::ShapeMismatch);
        }
        let finite = [self.centre.0, self.centre.1, self.size.0, self.size.1, self.angle].iter().all(|v| v.is_finite());
        if !finite || self.size.0 <= 0.0 || self.size.1 <= 0.0 {
            return Err(Error::InvalidConfig);
        }
        let (w, h) = (width as f32, height as f32);
        let (sx, sy) = (self.size.0 / w, self.size.1 / h);
        let (sin, cos) = (libm::sinf(self.angle), libm::cosf(self.angle));
        for (y, row) in out.chunks_exact_mut(width).enumerate() {
            let oy = (y as f32 + 0.5 - h / 2.0) * sy;
            for (x, value) in row.iter_mut().enumerate() {
                let ox = (x as f32 + 0.5 - w / 2.0) * sx;
                let u = self.centre.0 + cos * ox - sin * oy - 0.5;
                let v = self.centre.1 + sin * ox + cos * oy - 0.5;
                *value = bilinear(source, width, height, u, v);
            }
        }
        Ok(())
    }
}

/// The plane at (u, v) in pixel indices, bilinear between the four nearest
/// pixels, each outside the image counting as zero.
fn bilinear(plane: &[f32], width: usize, height: usize, u: f32, v: f32) -> f32 {
    let (fu, fv) = (libm::floorf(u), libm::floorf(v));
    let (a, b) = (u - fu, v - fv);
    let pixel = |i: f32, j: f32| {
        // Indices far outside (or NaN) fail the range tests before any cast.
        if i >= 0.0 && j >= 0.0 && i < width as f32 && j < height as f32 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)] // checked above
            let (i, j) = (i as usize, j as usize);
            plane[j * width + i]
        } else {
            0.0
        }
    };
    (1.0 - b) * ((1.0 - a) * pixel(fu, fv) + a * pixel(fu + 1.0, fv))
        + b * ((1.0 - a) * pixel(fu, fv + 1.0) + a * pixel(fu + 1.0, fv + 1.0))
}

/// A random resized crop with rotation of every plane of a `width` ×
/// `height` image: area fraction s uniform in `area`, aspect r log-uniform
/// in `aspect` (relative to the image's), θ uniform in ±`max_angle`
/// radians, the centre uniform where the (unturned) crop fits. Each plane
/// is copied to a stack buffer of `PLANE` values first, so `PLANE` must be
/// at least `width`·`height` (64 for 8×8 digits).
///
/// ```
/// use vicreg::augment::{Augment, ResizedCrop};
/// let crop = ResizedCrop::<64> { width: 8, height: 8, area: (0.5, 1.0), aspect: (0.75, 4.0 / 3.0), max_angle: 0.26 };
/// let mut image = [1.0f32; 64];
/// crop.apply(&mut image, &mut vicreg::Pcg32::new(1)).unwrap();
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizedCrop<const PLANE: usize> {
    /// Pixels per row W.
    pub width: usize,
    /// Rows H.
    pub height: usize,
    /// Range of the crop's area as a fraction of the image's, within (0, 1].
    pub area: (f32, f32),
    /// Range of the crop's aspect relative to the image's (1: the image's
    /// own shape), positive.
    pub aspect: (f32, f32),
    /// Largest turn either way, radians.
    pub max_angle: f32,
}

impl<const PLANE: usize> ResizedCrop<PLANE> {
    /// Checks the ranges: areas in (0, 1], aspects positive, each range in
    /// order, a finite angle.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] otherwise.
    pub fn validate(&self) -> Result<(), Error> {
        let (a, r) = (self.area, self.aspect);
        let areas = a.0 > 0.0 && a.0 <= a.1 && a.1 <= 1.0;
        let aspects = r.0 > 0.0 && r.0 <= r.1 && r.1.is_finite();
        if areas && aspects && self.max_angle.is_finite() { Ok(()) } else { Err(Error::InvalidConfig) }
    }

    /// Draws one crop of the image.
    pub fn draw<G: RngCore + ?Sized>(&self, rng: &mut G) -> Crop {
        let (w, h) = (self.width as f32, self.height as f32);
        let s = self.area.0 + (self.area.1 - self.area.0) * uniform(rng);
        let (log_lo, log_hi) = (libm::logf(self.aspect.0), libm::logf(self.aspect.1));
        let r = libm::expf(log_lo + (log_hi - log_lo) * uniform(rng));
        // A crop wider or taller than the image is clipped to it.
        let (cw, ch) = ((w * libm::sqrtf(s * r)).min(w), (h * libm::sqrtf(s / r)).min(h));
        let cx = cw / 2.0 + (w - cw) * uniform(rng);
        let cy = ch / 2.0 + (h - ch) * uniform(rng);
        Crop { centre: (cx, cy), size: (cw, ch), angle: self.max_angle * symmetric_unit(rng) }
    }
}

impl<const PLANE: usize> Augment for ResizedCrop<PLANE> {
    fn fits(&self, len: usize) -> Result<(), Error> {
        match self.width.checked_mul(self.height) {
            Some(plane) if plane > 0 && plane <= PLANE && len.is_multiple_of(plane) => self.validate(),
            _ => Err(Error::ShapeMismatch),
        }
    }

    fn apply<G: RngCore + ?Sized>(&self, sample: &mut [f32], rng: &mut G) -> Result<(), Error> {
        self.fits(sample.len())?;
        let crop = self.draw(rng);
        let plane = self.width * self.height;
        let mut source = [0.0f32; PLANE];
        for channel in sample.chunks_exact_mut(plane) {
            source[..plane].copy_from_slice(channel);
            crop.resample(&source[..plane], self.width, self.height, channel)?;
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, clippy::cast_precision_loss)] // exact small values
mod tests {
    use super::*;
    use crate::rng::Pcg32;

    /// A 4×4 plane with v(y, x) = 4y + x.
    const RAMP: [f32; 16] = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 13.0, 14.0, 15.0];

    fn resampled(crop: Crop) -> [f32; 16] {
        let mut out = [f32::NAN; 16];
        crop.resample(&RAMP, 4, 4, &mut out).unwrap();
        out
    }

    #[test]
    fn the_whole_image_unturned_is_the_image() {
        assert_eq!(resampled(Crop::whole(4, 4)), RAMP);
        let wide: [f32; 15] = core::array::from_fn(|i| (i * i) as f32);
        let mut out = [0.0f32; 15];
        Crop::whole(5, 3).resample(&wide, 5, 3, &mut out).unwrap();
        assert_eq!(out, wide);
    }

    #[test]
    fn known_affines_match_their_hand_worked_values() {
        // The centre quarter, twice as large: (u, v) = (0.75 + x/2, 0.75 + y/2),
        // and bilinear weights reproduce the ramp there exactly.
        let zoom = resampled(Crop { centre: (2.0, 2.0), size: (2.0, 2.0), angle: 0.0 });
        for (i, &value) in zoom.iter().enumerate() {
            let (y, x) = ((i / 4) as f32, (i % 4) as f32);
            assert!((value - (4.0 * (0.75 + y / 2.0) + 0.75 + x / 2.0)).abs() < 1e-6, "{i}: {value}");
        }
        // A quarter turn about the centre: out(y, x) = in(row x, column 3 − y).
        let turned = resampled(Crop { centre: (2.0, 2.0), size: (4.0, 4.0), angle: core::f32::consts::FRAC_PI_2 });
        for (i, &value) in turned.iter().enumerate() {
            let (y, x) = (i / 4, i % 4);
            assert!((value - RAMP[x * 4 + 3 - y]).abs() < 1e-5, "{i}: {value}");
        }
        // The crop moved one pixel left: out(y, x) = in(y, x − 1), zero in column 0.
        let shifted = resampled(Crop { centre: (1.0, 2.0), size: (4.0, 4.0), angle: 0.0 });
        for (i, &value) in shifted.iter().enumerate() {
            let (y, x) = (i / 4, i % 4);
            assert_eq!(value, if x == 0 { 0.0 } else { RAMP[y * 4 + x - 1] }, "{i}");
        }
        // Half a pixel: the mean of neighbours, and half of the edge pixel.
        let half = resampled(Crop { centre: (2.5, 2.0), size: (4.0, 4.0), angle: 0.0 });
        assert_eq!(&half[..4], &[0.5, 1.5, 2.5, 1.5]);
    }

    #[test]
    fn bad_crops_and_shapes_are_refused_before_anything_changes() {
        let mut out = [7.0f32; 16];
        let bad = [
            Crop { size: (0.0, 4.0), ..Crop::whole(4, 4) },
            Crop { centre: (f32::NAN, 2.0), ..Crop::whole(4, 4) },
            Crop { angle: f32::INFINITY, ..Crop::whole(4, 4) },
        ];
        for crop in bad {
            assert_eq!(crop.resample(&RAMP, 4, 4, &mut out), Err(Error::InvalidConfig));
        }
        assert_eq!(Crop::whole(4, 4).resample(&RAMP, 4, 3, &mut out), Err(Error::ShapeMismatch));
        assert_eq!(Crop::whole(4, 4).resample(&RAMP[..12], 4, 3, &mut out[..11]), Err(Error::ShapeMismatch));
        assert_eq!(Crop::whole(0, 4).resample(&[], 0, 4, &mut []), Err(Error::ShapeMismatch));
        assert_eq!(out, [7.0; 16]);

        let crop = ResizedCrop::<16> { width: 4, height: 4, area: (0.5, 1.0), aspect: (0.75, 1.25), max_angle: 0.2 };
        let mut rng = Pcg32::new(3);
        for bad in [
            ResizedCrop { area: (0.0, 1.0), ..crop },
            ResizedCrop { area: (0.8, 0.5), ..crop },
            ResizedCrop { area: (0.5, 1.5), ..crop },
            ResizedCrop { aspect: (0.0, 1.0), ..crop },
            ResizedCrop { aspect: (1.5, 1.0), ..crop },
            ResizedCrop { max_angle: f32::NAN, ..crop },
        ] {
            let mut image = RAMP;
            assert_eq!(bad.apply(&mut image, &mut rng), Err(Error::InvalidConfig), "{bad:?}");
            assert_eq!(image, RAMP);
        }
        // A plane larger than the stack buffer, or a partial plane.
        let mut image = RAMP;
        let small =
            ResizedCrop::<15> { width: 4, height: 4, area: crop.area, aspect: crop.aspect, max_angle: crop.max_angle };
        assert_eq!(small.fits(16), Err(Error::ShapeMismatch));
        assert_eq!(crop.apply(&mut image[..15], &mut rng), Err(Error::ShapeMismatch));
        assert_eq!(image, RAMP);
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn draws_stay_in_their_ranges_and_cover_them() {
        let crop =
            ResizedCrop::<64> { width: 8, height: 6, area: (0.5, 1.0), aspect: (0.75, 4.0 / 3.0), max_angle: 0.25 };
        let mut rng = Pcg32::new(9);
        let (mut angles, mut areas) = ((f32::MAX, f32::MIN), (f32::MAX, f32::MIN));
        for _ in 0..2000 {
            let c = crop.draw(&mut rng);
            let (cw, ch) = c.size;
            assert!(cw <= 8.0 && ch <= 6.0 && cw > 0.0 && ch > 0.0);
            // Inside the image, unturned.
            assert!(c.centre.0 - cw / 2.0 >= -1e-5 && c.centre.0 + cw / 2.0 <= 8.0 + 1e-5);
            assert!(c.centre.1 - ch / 2.0 >= -1e-5 && c.centre.1 + ch / 2.0 <= 6.0 + 1e-5);
            let area = cw * ch / 48.0;
            assert!(area <= 1.0 + 1e-5, "{c:?}");
            // Unclipped, the aspect relative to the image's is in range.
            if cw < 8.0 && ch < 6.0 {
                let r = (cw / 8.0) / (ch / 6.0);
                assert!((0.75 - 1e-4..=4.0 / 3.0 + 1e-4).contains(&r), "{c:?}");
                assert!(area >= 0.5 - 1e-4, "{c:?}");
            }
            assert!(c.angle.abs() <= 0.25);
            angles = (angles.0.min(c.angle), angles.1.max(c.angle));
            areas = (areas.0.min(area), areas.1.max(area));
        }
        assert!(angles.0 < -0.24 && angles.1 > 0.24, "{angles:?}");
        assert!(areas.0 < 0.52 && areas.1 > 0.95, "{areas:?}");
        // Every channel goes through the same crop.
        let mut image: [f32; 96] = core::array::from_fn(|i| if i < 48 { i as f32 } else { 2.0 * (i - 48) as f32 });
        crop.apply(&mut image, &mut Pcg32::new(4)).unwrap();
        for i in 0..48 {
            assert!((image[48 + i] - 2.0 * image[i]).abs() < 1e-4, "{i}");
        }
    }

    #[test]
    // Thousands of draws (or of formula terms) in safe code: Miri skips it.
    #[cfg_attr(miri, ignore)]
    fn unclipped_draws_cover_their_area_aspect_and_place() {
        // Areas up to a half never need clipping at these aspects.
        let crop =
            ResizedCrop::<64> { width: 8, height: 6, area: (0.3, 0.5), aspect: (0.75, 4.0 / 3.0), max_angle: 0.0 };
        let mut rng = Pcg32::new(12);
        let (mut areas, mut aspects) = ((f32::MAX, f32::MIN), (f32::MAX, f32::MIN));
        let (mut left, mut right) = (f32::MAX, f32::MIN);
        for _ in 0..3000 {
            let c = crop.draw(&mut rng);
            let (cw, ch) = c.size;
            let (area, aspect) = (cw * ch / 48.0, (cw / 8.0) / (ch / 6.0));
            assert!((0.3 - 1e-5..=0.5 + 1e-5).contains(&area), "{c:?}");
            assert!((0.75 - 1e-4..=4.0 / 3.0 + 1e-4).contains(&aspect), "{c:?}");
            assert_eq!(c.angle, 0.0);
            areas = (areas.0.min(area), areas.1.max(area));
            aspects = (aspects.0.min(aspect), aspects.1.max(aspect));
            left = left.min(c.centre.0 - cw / 2.0);
            right = right.max(c.centre.0 + cw / 2.0);
        }
        assert!(areas.0 < 0.31 && areas.1 > 0.49, "{areas:?}");
        assert!(aspects.0 < 0.77 && aspects.1 > 1.3, "{aspects:?}");
        assert!(left < 0.05 && right > 7.95, "{left} {right}");
        // A plane of no pixels is no image.
        assert_eq!(ResizedCrop::<64> { width: 0, ..crop }.fits(0), Err(Error::ShapeMismatch));
    }
}
