//! Comparing a checkpoint a recipe produces now with the one the repository
//! ships: when they differ, say where and by how much, so that whoever
//! changed the arithmetic of training can judge the change before anyone
//! regenerates the file.

use vicreg::nn::Net;
use vicreg::train::checkpoint;

/// The instructions the shipped checkpoints were made with
/// ([`vicreg::Lanes::instructions`] of `Lanes::Wide`): a recipe reproduces
/// a file bit for bit only where it runs the same ones.
pub const INSTRUCTIONS: &str = "avx2+fma";

/// Whether this machine runs [`INSTRUCTIONS`], so that a recipe can
/// reproduce a shipped checkpoint bit for bit; if not, says so on stderr
/// (the test that asks is then skipped, not failed: the same recipe rounds
/// differently there).
#[must_use]
pub fn reproducible_here() -> bool {
    let here = vicreg::Lanes::Wide.instructions();
    if here != INSTRUCTIONS {
        eprintln!("skipped: the checkpoint was made with {INSTRUCTIONS} kernels, this machine runs {here}");
    }
    here == INSTRUCTIONS
}

/// `None` when `now` and `shipped` are the same bytes; otherwise a sentence
/// naming the first tensor that differs (or the header, or the running
/// statistics) and the largest change of any value.
#[must_use]
pub fn difference(net: &Net<'_>, now: &[u8], shipped: &[u8]) -> Option<String> {
    if now == shipped {
        return None;
    }
    let values = |b: &[u8]| checkpoint::payload(b).collect::<Vec<f32>>();
    let (a, b) = (values(now), values(shipped));
    let first = net
        .tensors()
        .find(|t| a.get(t.range()) != b.get(t.range()))
        .map_or("the header or the running statistics".to_owned(), |t| format!("layer {} {}", t.layer, t.name()));
    let worst = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0f32, f32::max);
    Some(format!(
        "first difference in {first}, largest change of a value {worst:e} ({} against {} bytes)",
        now.len(),
        shipped.len()
    ))
}
