//! A batch through [`vicreg::nn::Stream`] in micro-batches of any size, stage
//! by stage, keeping what a full-batch pass would report: the loss terms,
//! every parameter gradient, and view a's representation and embedding
//! (gathered from the last stage, whose forward passes use the whole batch's
//! statistics).

use vicreg::nn::{KindSet, Pass, Siamese, Stream};
use vicreg::{Error, LossTerms};

/// What a streamed batch computed.
pub struct Streamed {
    /// The loss terms of the whole batch.
    pub terms: LossTerms,
    /// ∂ℓ/∂θ.
    pub grads: Vec<f32>,
    /// View a's representations, n rows.
    pub repr_a: Vec<f32>,
    /// View a's embeddings, n rows.
    pub embed_a: Vec<f32>,
}

/// Streams the n rows of `x_a` and `x_b` (flat samples) through `siamese`
/// in micro-batches of `micro` rows (the last one shorter), which must not
/// exceed its capacity.
///
/// # Errors
///
/// What [`Stream::absorb`] and [`Stream::finish`] return.
pub fn stream<K: KindSet>(
    siamese: &Siamese<'_, K>,
    pass: &Pass,
    params: &[f32],
    (x_a, x_b): (&[f32], &[f32]),
    micro: usize,
) -> Result<Streamed, Error> {
    let sizes = siamese.layout().sizes;
    let input = sizes.input;
    let n = x_a.len() / input;
    let mut state = vec![0.0f32; sizes.stream_state()];
    let mut workspace = vec![0.0f32; sizes.workspace];
    let mut grads = vec![0.0f32; sizes.parameters];
    let mut stream = Stream::new(siamese, &mut state)?;
    let (mut repr_a, mut embed_a) = (Vec::new(), Vec::new());
    let stages = stream.stages();
    for stage in 0..stages {
        for first in (0..n).step_by(micro.max(1)) {
            let rows = micro.max(1).min(n - first);
            let range = first * input..(first + rows) * input;
            stream.absorb(pass, params, &mut grads, &mut workspace, &x_a[range.clone()], &x_b[range])?;
            if stage + 1 == stages {
                let (repr, embed) = siamese.last_forward(&workspace, 0, rows);
                repr_a.extend_from_slice(repr);
                embed_a.extend_from_slice(embed);
            }
        }
        if let Some(terms) = stream.finish(pass)? {
            return Ok(Streamed { terms, grads, repr_a, embed_a });
        }
    }
    Err(Error::ShapeMismatch)
}
