//! The native build of the module's code, driven exactly as the Node test
//! drives the WebAssembly build: prints the loss terms of each step as JSON,
//! so the two can be compared.
//!
//! `cargo run --release --bin native-reference -- DIGITS_CSV STEPS SEED [ENCODER]`
//! (encoder 0, the MLP, by default; 1 the CNN)

use std::process::ExitCode;
use vicreg_wasm::{BATCH, INPUT, vicreg_create_encoder, vicreg_input, vicreg_step, vicreg_terms};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (csv, steps, seed, encoder) = match args.as_slice() {
        [csv, steps, seed] => (csv, steps, seed, "0"),
        [csv, steps, seed, encoder] => (csv, steps, seed, encoder.as_str()),
        _ => {
            eprintln!("usage: native-reference DIGITS_CSV STEPS SEED [ENCODER]");
            return ExitCode::from(2);
        }
    };
    let (Ok(steps), Ok(seed), Ok(encoder)) = (steps.parse::<usize>(), seed.parse::<u32>(), encoder.parse::<u32>())
    else {
        eprintln!("STEPS, SEED and ENCODER are whole numbers");
        return ExitCode::from(2);
    };
    let Ok(text) = std::fs::read_to_string(csv) else {
        eprintln!("cannot read {csv}");
        return ExitCode::FAILURE;
    };
    // The training images in file order, pixels / 16: the Node test's order.
    let train: Vec<Vec<f32>> = text
        .lines()
        .skip(1)
        .filter(|l| l.starts_with("train,"))
        .map(|l| l.split(',').skip(2).map(|p| p.parse::<f32>().unwrap_or(f32::NAN) / 16.0).collect())
        .collect();
    if train.is_empty() || train.iter().any(|r| r.len() != INPUT) {
        eprintln!("{csv}: not the digits data");
        return ExitCode::FAILURE;
    }
    if vicreg_create_encoder(seed, encoder) != 0 {
        eprintln!("encoder {encoder}: 0 (the MLP) or 1 (the CNN)");
        return ExitCode::from(2);
    }
    let mut out = Vec::new();
    for step in 0..steps {
        // SAFETY (natively as in WebAssembly): the module's buffers are only
        // touched between calls, from this one thread.
        let input = unsafe { std::slice::from_raw_parts_mut(vicreg_input(), BATCH * INPUT) };
        for (r, row) in input.chunks_mut(INPUT).enumerate() {
            row.copy_from_slice(&train[(step * BATCH + r) % train.len()]);
        }
        let status = vicreg_step(BATCH as u32);
        if status != 0 {
            eprintln!("step {step}: status {status}");
            return ExitCode::FAILURE;
        }
        let terms = unsafe { std::slice::from_raw_parts(vicreg_terms(), 4) };
        out.push(format!("[{}]", terms.iter().map(|t| format!("{t:e}")).collect::<Vec<_>>().join(",")));
    }
    println!("[{}]", out.join(","));
    ExitCode::SUCCESS
}
