//! Prints the compile-time memory of the training configurations used in the
//! examples, by part: `cargo run --release -p vicreg-tools --bin memory`.

// The main job's network on the digits (`examples/train-digits`).
use digits_net::DigitsNet as Digits;
use sensor_adapt::big_batch::{EFFECTIVE, MicroNet, STATE_BYTES, SeedRing};

use vicreg::train::Memory;
use vicreg::{AdamW, Trainer};

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

/// Prints the compile-time memory of the examples' training configurations, by part (a Markdown table)
#[derive(clap::Parser)]
#[command(version)]
struct Cli {}

fn main() {
    let _: Cli = clap::Parser::parse();
    println!("| configuration | parameters | gradients | optimiser | activations | loss workspace | total (KiB) |");
    println!("|---|---|---|---|---|---|---|");
    row("digits: 64→128→32, 32→64→64, N 128, AdamW", &Trainer::<Digits, AdamW>::MEMORY);
    row("firmware: 32→24→8, 8→24→24, N 16, SGD", &sensor_adapt::Net::MEMORY);
    row("big-batch firmware: the same, micro-batches of 8, SGD", &MicroNet::MEMORY);
    println!();
    println!(
        "big-batch firmware, effective batch {EFFECTIVE}: trainer {} + stream state and one micro-batch of inputs {} \
         + seed ring {} = {} bytes",
        MicroNet::MEMORY_BYTES,
        MicroNet::STREAMING_BYTES,
        core::mem::size_of::<SeedRing>(),
        STATE_BYTES
    );
}
