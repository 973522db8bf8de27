//! Host-side checks of the `vicreg` core: reading the reference vectors and
//! their tolerances, an independent f64 implementation, and the code the
//! `crosscheck` tool and the tests share.

pub mod batches;
pub mod cases;
pub mod f64_reference;
pub mod golden;
pub mod layers;
pub mod loss_case;
pub mod net64;
pub mod net_case;
pub mod npy;
pub mod spectrum;
pub mod streaming;
pub mod torch;
pub mod vectors;
pub mod watch;

/// The reference vectors shipped with the repository.
pub fn vectors_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../reference/vectors")
}

/// The worst (largest) agreement ratio of a list, or 0 for an empty list.
pub fn worst(agreements: &[vectors::Agreement]) -> Option<&vectors::Agreement> {
    agreements.iter().max_by(|a, b| a.ratio.total_cmp(&b.ratio))
}
