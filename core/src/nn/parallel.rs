//! A data-parallel streamed step over the host's cores (feature `std`):
//! each thread streams its share of the rows through its own [`Stream`],
//! and at the end of every stage the shards exchange their encoded
//! statistics. Every thread merges all shards' encodings, its own included,
//! into a cleared stage in shard order, so every thread finishes the stage
//! with bit-identical statistics (the same operations in the same order),
//! exactly as devices of a fleet would. The weight gradients of the shards
//! are added in shard order at the end.

extern crate std;

use super::kind::KindSet;
use super::siamese::{Pass, Siamese};
use super::stream::Stream;
use crate::error::Error;
use crate::loss::LossTerms;
use std::vec;
use std::vec::Vec;

/// ∂ℓ/∂θ of a batch of n rows, streamed by `threads` threads (each in
/// micro-batches of the [`Siamese`]'s capacity) with `fill(first, x_a,
/// x_b)` writing rows `first..` of both views; the gradients go into
/// `grads`. Equal, to rounding, to one thread's [`Stream::gradients`] and to
/// the full-batch [`Siamese::compute_gradients`].
///
/// ```
/// use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese, parallel_gradients};
/// use vicreg::Pcg32;
///
/// let (encoder, expander) = ([Layer::linear(8), Layer::ReLU], [Layer::linear(6), Layer::BatchNorm]);
/// let net = Net::new(Shape::Flat(4), &encoder, &expander);
/// let mut places = vec![Place::EMPTY; net.depth()];
/// let siamese = Siamese::<AllKinds>::new(&net, 16, &mut places)?;
/// let sizes = siamese.layout().sizes;
/// let (mut params, mut running) = (vec![0.0; sizes.parameters], vec![0.0; sizes.running]);
/// siamese.init(&mut params, &mut running, &mut Pcg32::new(1))?;
/// let mut grads = vec![0.0; sizes.parameters];
/// let fill = |first: usize, x_a: &mut [f32], x_b: &mut [f32]| {
///     for (i, (a, b)) in x_a.iter_mut().zip(x_b).enumerate() {
///         *a = ((first * 4 + i) as f32 * 0.37).sin();
///         *b = 0.9 * *a;
///     }
/// };
/// let terms = parallel_gradients(&siamese, &Pass::default(), &params, &mut grads, 100, 2, fill)?;
/// assert!(terms.loss.is_finite());
/// # Ok::<(), vicreg::Error>(())
/// ```
///
/// # Errors
///
/// What [`Stream::absorb`] and [`Stream::finish`] return (the first
/// shard's error), [`Error::TooFewRows`] for fewer than 2 rows or fewer
/// rows than threads, [`Error::NonFiniteResult`] if a gradient overflows
/// (or a thread panicked).
#[allow(clippy::too_many_arguments)]
pub fn parallel_gradients<K, F>(
    siamese: &Siamese<'_, K>,
    pass: &Pass,
    params: &[f32],
    grads: &mut [f32],
    n: usize,
    threads: usize,
    fill: F,
) -> Result<LossTerms, Error>
where
    K: KindSet + Sync,
    F: Fn(usize, &mut [f32], &mut [f32]) + Sync,
{
    let threads = threads.max(1);
    if n < 2 || n < threads {
        return Err(Error::TooFewRows { n });
    }
    if grads.len() != params.len() {
        return Err(Error::ShapeMismatch);
    }
    let sizes = siamese.layout().sizes;
    let (batch, input) = (siamese.capacity(), sizes.input);
    let mut states: Vec<Vec<f32>> = (0..threads).map(|_| vec![0.0; sizes.stream_state()]).collect();
    let mut streams = Vec::with_capacity(threads);
    for state in &mut states {
        streams.push(Stream::new(siamese, state)?);
    }
    let mut shard_grads: Vec<Vec<f32>> = (0..threads).map(|_| vec![0.0; sizes.parameters]).collect();
    let mut workspaces: Vec<Vec<f32>> = (0..threads).map(|_| vec![0.0; sizes.workspace + 2 * batch * input]).collect();
    let fill = &fill;
    for _ in 0..siamese.net().stream_stages() {
        // Each shard streams its rows on its own thread and encodes what it
        // absorbed; threads are joined at the end of every stage.
        let encoded: Vec<Result<Vec<u8>, Error>> = std::thread::scope(|scope| {
            let handles: Vec<_> = streams
                .iter_mut()
                .zip(&mut shard_grads)
                .zip(&mut workspaces)
                .enumerate()
                .map(|(t, ((stream, g), ws))| {
                    scope.spawn(move || {
                        let (ws, xs) = ws.split_at_mut(sizes.workspace);
                        let (x_a, x_b) = xs.split_at_mut(batch * input);
                        let rows = n * t / threads..n * (t + 1) / threads;
                        for first in rows.clone().step_by(batch) {
                            let r = batch.min(rows.end - first);
                            let (a, b) = (&mut x_a[..r * input], &mut x_b[..r * input]);
                            fill(first, a, b);
                            stream.absorb(pass, params, g, ws, a, b)?;
                        }
                        let mut bytes = vec![0u8; stream.encoded_len()];
                        stream.encode(&mut bytes).map_err(|_| Error::ShapeMismatch)?;
                        Ok(bytes)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap_or(Err(Error::NonFiniteResult))).collect()
        });
        let encoded: Vec<Vec<u8>> = encoded.into_iter().collect::<Result<_, _>>()?;
        let mut terms = None;
        for stream in &mut streams {
            stream.begin(stream.stage())?;
            for bytes in &encoded {
                stream.merge(pass.options.lanes, bytes).map_err(|_| Error::ShapeMismatch)?;
            }
            terms = stream.finish(pass)?;
        }
        if let Some(terms) = terms {
            grads.fill(0.0);
            for g in &shard_grads {
                for (sum, v) in grads.iter_mut().zip(g) {
                    *sum += v;
                }
            }
            return if grads.iter().all(|g| g.is_finite()) { Ok(terms) } else { Err(Error::NonFiniteResult) };
        }
    }
    Err(Error::ShapeMismatch)
}

#[cfg(test)]
mod tests {
    use super::parallel_gradients;
    use super::vec;
    use crate::Pcg32;
    use crate::error::Error;
    use crate::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese};

    const NET: Net = Net::new(
        Shape::Flat(3),
        &[Layer::linear(5), Layer::ReLU, Layer::linear(4)],
        &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(5).without_bias()],
    );
    const N: usize = 23;

    fn fill(first: usize, a: &mut [f32], b: &mut [f32]) {
        for (i, (a, b)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            let k = (first * 3 + i) as f32;
            (*a, *b) = (libm::sinf(k * 0.71) + 0.3, libm::sinf(k * 0.71) + 0.2 * libm::cosf(k * 1.9));
        }
    }

    #[test]
    fn threads_give_the_full_batch_gradients_and_refuse_too_few_rows() {
        let mut places = vec![Place::EMPTY; NET.depth()];
        let full = Siamese::<AllKinds>::new(&NET, N, &mut places).unwrap();
        let sizes = full.layout().sizes;
        let (mut params, mut running) = (vec![0.0; sizes.parameters], vec![0.0; sizes.running]);
        full.init(&mut params, &mut running, &mut Pcg32::new(9)).unwrap();
        let (mut x_a, mut x_b) = (vec![0.0; N * 3], vec![0.0; N * 3]);
        fill(0, &mut x_a, &mut x_b);
        let mut expected = vec![0.0; sizes.parameters];
        let mut ws = vec![0.0; sizes.workspace];
        let pass = Pass::default();
        let terms = full.compute_gradients(&pass, &params, &mut expected, &mut ws, &x_a, &x_b).unwrap();
        let scale = expected.iter().fold(1e-3f32, |m, g| m.max(g.abs()));

        let mut micro_places = vec![Place::EMPTY; NET.depth()];
        let micro = Siamese::<AllKinds>::new(&NET, 4, &mut micro_places).unwrap();
        for threads in [1, 2, 3] {
            let mut grads = vec![0.0; sizes.parameters];
            let got = parallel_gradients(&micro, &pass, &params, &mut grads, N, threads, fill).unwrap();
            assert!((got.loss - terms.loss).abs() <= 1e-4 * terms.loss, "{threads} threads: {got:?} {terms:?}");
            for (g, e) in grads.iter().zip(&expected) {
                assert!((g - e).abs() <= 1e-4 * scale, "{threads} threads: gradient {g} against {e}");
            }
        }
        let mut grads = vec![0.0; sizes.parameters];
        assert_eq!(parallel_gradients(&micro, &pass, &params, &mut grads, 3, 4, fill), Err(Error::TooFewRows { n: 3 }));
        assert_eq!(parallel_gradients(&micro, &pass, &params, &mut grads, 1, 1, fill), Err(Error::TooFewRows { n: 1 }));
        assert!(parallel_gradients(&micro, &pass, &params, &mut grads, 2, 2, fill).is_ok());
        assert_eq!(parallel_gradients(&micro, &pass, &params, &mut grads[..3], N, 2, fill), Err(Error::ShapeMismatch));
    }
}
