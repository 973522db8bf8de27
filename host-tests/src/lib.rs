//! Host-side checks of the `vicreg` core: an independent f64
//! implementation, golden values, spectra, and (re-exported from
//! `vicreg-tools`) the reference cases and the bridges the tests exercise.

pub mod f64_reference;
pub mod golden;
pub mod net64;
pub mod spectrum;

pub use vicreg_tools::{
    batches, cases, layers, loss_case, net_case, npy, streaming, torch, vectors, vectors_dir, worst,
};
