//! What the command-line tools share, and what the test suite reads with
//! them: layer lists and input shapes as JSON, the npy and safetensors
//! bridges, the reference cases and how agreement with them is judged, the
//! streamed path of a case, and the inputs of the speed runs.
//!
//! The tools (`src/bin`): `checkpoint-npy` and `checkpoint-safetensors`
//! (converters), `crosscheck` (the reference vectors), `memory` (the
//! firmware networks' footprint), `speed` (timings beside PyTorch's).

pub mod batches;
pub mod cases;
pub mod layers;
pub mod loss_case;
pub mod net_case;
pub mod npy;
pub mod streaming;
pub mod torch;
pub mod vectors;

/// The reference vectors shipped with the crate.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference/vectors")
}

/// The case whose worst array or scalar came closest to its tolerance.
pub fn worst(agreements: &[vectors::Agreement]) -> Option<&vectors::Agreement> {
    agreements.iter().max_by(|a, b| a.ratio.total_cmp(&b.ratio))
}
