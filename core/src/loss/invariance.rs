//! The invariance term s = (1/(n·d)) Σᵢⱼ (zᵢⱼ − z′ᵢⱼ)², the mean squared
//! difference between the two views' embeddings, and its gradient
//! ∂s/∂zᵢⱼ = 2(zᵢⱼ − z′ᵢⱼ)/(n·d) = −∂s/∂z′ᵢⱼ.

use crate::lanes::{self, Lanes};

/// s for two views of equal length.
pub(crate) fn invariance(lanes: Lanes, z_a: &[f32], z_b: &[f32]) -> f32 {
    lanes::sum_sq_diff(lanes, z_a, z_b) / z_a.len() as f32
}

/// s, overwriting the gradients with λ·∂s/∂z and λ·∂s/∂z′ in the same
/// pass (`scale` = [`Config::invariance_scale`](super::Config::invariance_scale)).
pub(crate) fn invariance_and_gradient(
    lanes: Lanes,
    scale: f32,
    z_a: &[f32],
    z_b: &[f32],
    grad_a: &mut [f32],
    grad_b: &mut [f32],
) -> f32 {
    lanes::sum_sq_diff_scaled(lanes, z_a, z_b, scale, [grad_a, grad_b]) / z_a.len() as f32
}
