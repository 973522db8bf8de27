//! A network's parameters as PyTorch initialises them, each kind by its own
//! rule ([`Init`]), tensor by tensor in storage order.

use super::kind::{Init, KindSet};
use super::siamese::Siamese;
use super::tensors::Role;
use crate::error::Error;

impl<K: KindSet> Siamese<'_, K> {
    /// PyTorch's default initialisation, as each kind says:
    /// Linear and Conv1d weights and biases uniform in ±1/√fan_in (fan_in =
    /// inputs × kernel), BatchNorm γ = 1, β = 0, running mean 0 and
    /// variance 1. Draws tensor by tensor in
    /// storage order.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if a buffer's length is not the network's.
    pub fn init<G: rand_core::RngCore + ?Sized>(
        &self,
        params: &mut [f32],
        running: &mut [f32],
        rng: &mut G,
    ) -> Result<(), Error> {
        let s = &self.layout.sizes;
        if params.len() != s.parameters || running.len() != s.running {
            return Err(Error::ShapeMismatch);
        }
        for t in self.tensors() {
            let values = &mut params[t.range()];
            if t.kind.init() == Init::Identity {
                values.fill(if t.role == Role::Weight { 1.0 } else { 0.0 });
            } else {
                // A bias shares its layer's bound: its fan-in is the weight's.
                let bound = 1.0 / libm::sqrtf(self.fan_in(t.layer).max(1) as f32);
                for w in values {
                    *w = bound * crate::rng::symmetric_unit(rng);
                }
            }
        }
        // Running statistics start at mean 0 and variance 1.
        for p in self.places {
            let c = p.at.input.channels();
            if p.layer.running(p.at.input) > 0 {
                running[p.at.running..p.at.running + c].fill(0.0);
                running[p.at.running + c..p.at.running + 2 * c].fill(1.0);
            }
        }
        Ok(())
    }

    fn fan_in(&self, layer: usize) -> usize {
        self.place(layer).map_or(1, |p| p.layer.fan_in(p.at.input))
    }
}
