//! Prints the compile-time memory of the training configurations used in the
//! examples, by part: `cargo run --release -p vicreg-tools --bin memory`.

// The main job's network on the digits (`examples/train-digits`).
use digits_net::DigitsNet as Digits;
use sensor_adapt::big_batch::{EFFECTIVE, MicroNet, STATE_BYTES, SeedRing};

use vicreg::train::Memory;
use vicreg::{AdamW, Sgd, Trainer};

// The sensor job's network (`examples/train-motions`) at its batch, and as
// the streamed micro-batches a device with less RAM would train it in.
use motion_adapt::motion::{MOTION, Motion};
vicreg::network!(MotionMicro2 = MOTION, batch 2);
vicreg::network!(MotionMicro4 = MOTION, batch 4);

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
    row("watch: the sensor job's network, micro-batches of 1, SGD without momentum", &motion_adapt::watch::Net::MEMORY);
    row("camera: Conv2d 1→4→8→16 over 8×8, 16→32→32, micro-batches of 4, SGD", &camera_adapt::Net::MEMORY);
    row("sensor job: Conv1d 6→16→32→32 over 96 steps, 32→64→64, N 20, AdamW", &Trainer::<Motion, AdamW>::MEMORY);
    row("the same, micro-batches of 4, SGD", &Trainer::<MotionMicro4, Sgd>::MEMORY);
    row("the same, micro-batches of 2, SGD", &Trainer::<MotionMicro2, Sgd>::MEMORY);
    println!();
    println!(
        "| firmware (part's RAM) | trainer | stream and a micro-batch | views and buffers | training, bytes | asserted at build ≤ |"
    );
    println!("|---|---|---|---|---|---|");
    let firmware = |name: &str, trainer: usize, stream: usize, total: usize, limit_kib: usize| {
        println!("| {name} | {trainer} | {stream} | {} | {total} | {} |", total - trainer - stream, limit_kib * 1024);
    };
    firmware("fine-tune (64 KiB)", sensor_adapt::Net::MEMORY_BYTES, 0, sensor_adapt::TRAINING_BYTES, 52);
    firmware("big-batch (64 KiB)", MicroNet::MEMORY_BYTES, MicroNet::STREAMING_BYTES, STATE_BYTES, 52);
    firmware(
        "watch (256 KiB)",
        motion_adapt::watch::Net::MEMORY_BYTES,
        motion_adapt::watch::Net::STREAMING_BYTES,
        motion_adapt::watch::TRAINING_BYTES,
        240,
    );
    firmware(
        "camera (256 KiB)",
        camera_adapt::Net::MEMORY_BYTES,
        camera_adapt::Net::STREAMING_BYTES,
        camera_adapt::TRAINING_BYTES,
        224,
    );
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
