//! Inference: the representation or the embedding of any number of
//! samples, BatchNorm on its running statistics, a batch capacity at a time.

use super::kind::KindSet;
use super::kind::NormConfig;
use super::siamese::Siamese;
use crate::error::Error;
use crate::lanes::{self, Lanes};

impl<K: KindSet> Siamese<'_, K> {
    /// The representation y (`until` = the encoder's length) or embedding
    /// z (`until` = the depth) of any number of samples in inference mode
    /// (BatchNorm on its running statistics), `capacity` rows at a time,
    /// using view a's activations.
    #[allow(clippy::too_many_arguments)]
    fn infer(
        &self,
        lanes: Lanes,
        norm: NormConfig,
        params: &[f32],
        running: &[f32],
        workspace: &mut [f32],
        x: &[f32],
        out: &mut [f32],
        embed: bool,
    ) -> Result<(), Error> {
        self.check_lengths(params.len(), workspace.len())?;
        if running.len() != self.layout.sizes.running {
            return Err(Error::ShapeMismatch);
        }
        norm.validate()?;
        let n = self.rows(x, true)?;
        let (until, width, at) = if embed {
            (self.net.depth(), self.layout.sizes.embed, self.layout.embed)
        } else {
            (self.net.encoder.len(), self.layout.sizes.repr, self.layout.repr)
        };
        if out.len() < n * width {
            return Err(Error::ShapeMismatch);
        }
        // View a's activations; everything after them (view b, the
        // backward region, the loss's scratch) is free, and the
        // convolutions take their scratch from it.
        let (act, free) = workspace.split_at_mut(self.layout.sizes.view);
        let input = self.layout.sizes.input;
        for (xs, ys) in x.chunks(self.batch * input).zip(out.chunks_mut(self.batch * width)) {
            let rows = xs.len() / input;
            let buffers = (&mut *act, &mut *free);
            self.forward::<false>(lanes, norm, (Some(running), None), params, xs, rows, buffers, (0, until));
            ys[..rows * width].copy_from_slice(&act[at..at + rows * width]);
        }
        // Finite weights can still overflow: inference refuses what training would.
        if lanes::all_finite(&out[..n * width]) { Ok(()) } else { Err(Error::NonFiniteResult) }
    }

    /// The encoder's representation y of any number of flat samples, in
    /// inference mode.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] for buffers of the wrong length,
    /// [`Error::NonFiniteInput`], [`Error::InvalidConfig`] for bad BatchNorm
    /// settings, [`Error::NonFiniteResult`] if the output overflows.
    #[allow(clippy::too_many_arguments)]
    pub fn represent(
        &self,
        lanes: Lanes,
        norm: NormConfig,
        params: &[f32],
        running: &[f32],
        workspace: &mut [f32],
        x: &[f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.infer(lanes, norm, params, running, workspace, x, out, false)
    }

    /// The embedding z of any number of flat samples, in inference mode.
    ///
    /// # Errors
    ///
    /// As [`represent`](Self::represent).
    #[allow(clippy::too_many_arguments)]
    pub fn embed(
        &self,
        lanes: Lanes,
        norm: NormConfig,
        params: &[f32],
        running: &[f32],
        workspace: &mut [f32],
        x: &[f32],
        out: &mut [f32],
    ) -> Result<(), Error> {
        self.infer(lanes, norm, params, running, workspace, x, out, true)
    }

    /// The representation and embedding (flat, n rows) that the last
    /// training pass computed for view 0 (a) or 1 (b).
    #[must_use]
    pub fn last_forward<'w>(&self, workspace: &'w [f32], view: usize, n: usize) -> (&'w [f32], &'w [f32]) {
        let l = &self.layout;
        let start = if view == 0 { 0 } else { l.sizes.view };
        let v = workspace.get(start..start + l.sizes.view).unwrap_or(&[]);
        let repr = v.get(l.repr..l.repr + n * l.sizes.repr).unwrap_or(&[]);
        let embed = v.get(l.embed..l.embed + n * l.sizes.embed).unwrap_or(&[]);
        (repr, embed)
    }
}
