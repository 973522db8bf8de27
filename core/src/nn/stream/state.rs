//! A stream's state, one flat buffer of f32 (exchangeable, and sized at
//! compile time with the rest of a network's buffers): a header of
//! [`STREAM_HEAD`](crate::nn::Sizes::stream_state) slots, then per view the
//! statistics each stage accumulates ([`ViewState`]).

// Row counts live in the state as f32 so that a state is one flat,
// exchangeable buffer; they are exact below 2²⁴, which `absorb` enforces.
#![allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]

pub(super) const ROWS: usize = 0;
pub(super) const INVARIANCE: usize = 1;
pub(super) const STAGE: usize = 2;
pub(super) const TOTAL: usize = 3;
pub(super) const TERMS: usize = 4;

/// Rows a stage can count exactly in f32.
pub(super) const MAX_ROWS: usize = 1 << 24;

/// A row count read back from a state or an encoding: a whole number from 0
/// to [`MAX_ROWS`], or nothing (a forged or damaged value, which must not
/// become a wrapped `usize`).
pub(super) fn count(v: f32) -> Option<usize> {
    (v >= 0.0 && v <= MAX_ROWS as f32 && v.to_bits() == libm::truncf(v).to_bits()).then_some(v as usize)
}

/// One view's part of a state.
pub(super) struct ViewState<'s> {
    /// Per BatchNorm layer at its running offset: (mean, M₂) while
    /// accumulating, (mean, 1/√(σ² + eps)) once finished.
    pub(super) norms: &'s mut [f32],
    /// Per BatchNorm layer: the low part of its mean (the mean is
    /// hi + lo), in the first half of its slot.
    pub(super) norm_lo: &'s mut [f32],
    /// Per BatchNorm layer: (Σ∂ℓ/∂y, Σ∂ℓ/∂y⊙x̂).
    pub(super) sums: &'s mut [f32],
    /// Mean of z, as hi + lo.
    pub(super) mean: &'s mut [f32],
    /// The mean's low part.
    pub(super) lo: &'s mut [f32],
    /// Co-moment of z (upper triangle); after the loss stage G = C − diag(C).
    pub(super) comoment: &'s mut [f32],
    /// The variance term's per-column weights (after the loss stage), or
    /// workspace.
    pub(super) weights: &'s mut [f32],
}

impl<'s> ViewState<'s> {
    pub(super) fn cut(v: &'s mut [f32], running: usize, d: usize) -> Self {
        let (norms, v) = v.split_at_mut(running);
        let (norm_lo, v) = v.split_at_mut(running);
        let (sums, v) = v.split_at_mut(running);
        let (mean, v) = v.split_at_mut(d);
        let (lo, v) = v.split_at_mut(d);
        let (comoment, weights) = v.split_at_mut(d * d);
        Self { norms, norm_lo, sums, mean, lo, comoment, weights }
    }
}
