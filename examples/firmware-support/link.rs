//! The build script of both firmware crates (`build = "../firmware-support/link.rs"`):
//! puts the crate's own `memory.x` where the linker finds it, links with
//! cortex-m-rt's `link.x` (and defmt's `defmt.x` with that feature), and
//! relinks when the memory map changes.
use std::{env, fs, path::PathBuf};

fn main() {
    let crate_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let memory = crate_dir.join("memory.x");
    fs::copy(&memory, out.join("memory.x")).expect("the firmware crate has a memory.x, and OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rerun-if-changed={}", memory.display());
    if env::var_os("CARGO_FEATURE_DEFMT").is_some() {
        println!("cargo:rustc-link-arg=-Tdefmt.x");
    }
}
