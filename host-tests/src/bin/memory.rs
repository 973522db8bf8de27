//! Prints the compile-time memory of the training configurations used in the
//! examples, by part: `cargo run -p host-tests --bin memory`.

use vicreg::{AdamW, Memory, Sgd, Trainer};

/// The main job's network on the digits (`examples/train-digits`).
type Digits = Trainer<128, 64, 128, 32, 64, 64, 64, AdamW<64, 128, 32, 64, 64>>;
/// The Cortex-M4F fine-tuning firmware's network.
type Firmware = Trainer<16, 32, 24, 8, 24, 24, 16, Sgd<32, 24, 8, 24, 24>>;

fn row(name: &str, m: &Memory) {
    let k = |b: usize| format!("{:.1}", b as f64 / 1024.0);
    println!(
        "| {name} | {} | {} | {} | {} | {} | {} |",
        k(m.parameters),
        k(m.gradients),
        k(m.optimizer),
        k(m.activations),
        k(m.loss_workspace),
        k(m.total)
    );
}

fn main() {
    println!("| configuration | parameters | gradients | optimiser | activations | loss workspace | total (KiB) |");
    println!("|---|---|---|---|---|---|---|");
    row("digits: 64→128→32, 32→64→64, N 128, AdamW", &Digits::MEMORY);
    row("firmware: 32→24→8, 8→24→24, N 16, SGD", &Firmware::MEMORY);
}
