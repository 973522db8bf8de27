//! Converts checkpoints to and from `.npy` files, one per tensor, for
//! PyTorch and NumPy.
//!
//! ```text
//! checkpoint-npy export CHECKPOINT DIR   # DIR/enc1.w.npy … DIR/meta.json
//! checkpoint-npy import DIR CHECKPOINT
//! ```
//!
//! Tensor names follow the reference vectors: `enc1.w` (out×in, PyTorch's
//! Linear layout), `enc1.b`, `enc2.*`, `exp1.*`, `bn1.gamma`, `bn1.beta`,
//! `exp2.*`, then `bn1.running_mean`, `bn1.running_var`, and the optimiser's
//! state as `state0.enc1.w` … (`state1.*` for AdamW's second moments).
//! `meta.json` keeps the widths, the architecture flags and the step counts.

use host_tests::mlp_case::schema_key;
use host_tests::npy;
use std::path::Path;
use std::process::ExitCode;
use vicreg::checkpoint::{self, Info};
use vicreg::{Dims, Tensor};

/// (file stem, shape) of every array of a checkpoint, in payload order.
fn arrays(info: &Info) -> Vec<(String, Vec<usize>)> {
    let d = info.dims;
    let tensors: Vec<(String, Vec<usize>)> = Tensor::ALL
        .iter()
        .map(|&t| {
            let (layer, key) = schema_key(t);
            let (rows, cols) = d.shape(t);
            (format!("{layer}.{key}"), if cols == 1 { vec![rows] } else { vec![rows, cols] })
        })
        .collect();
    let mut all = tensors.clone();
    all.push(("bn1.running_mean".into(), vec![d.expander_hidden]));
    all.push(("bn1.running_var".into(), vec![d.expander_hidden]));
    let copies = (info.values - info.model_values()) / d.parameter_count().max(1);
    for copy in 0..copies {
        all.extend(tensors.iter().map(|(name, shape)| (format!("state{copy}.{name}"), shape.clone())));
    }
    all
}

fn export(checkpoint: &Path, dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(checkpoint).map_err(|e| format!("{}: {e}", checkpoint.display()))?;
    let info = checkpoint::inspect(&bytes).map_err(|e| format!("{}: {e}", checkpoint.display()))?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut values = checkpoint::payload(&bytes);
    for (name, shape) in arrays(&info) {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = values.by_ref().take(n).collect();
        std::fs::write(dir.join(format!("{name}.npy")), npy::encode(&shape, &data)).map_err(|e| e.to_string())?;
    }
    let d = info.dims;
    let meta = serde_json::json!({
        "dims": { "input": d.input, "hidden": d.hidden, "repr": d.repr, "expander_hidden": d.expander_hidden, "embed": d.embed },
        "batch_norm": info.batch_norm, "final_bias": info.final_bias,
        "optimizer_kind": info.optimizer_kind, "steps": info.steps, "optimizer_steps": info.optimizer_steps,
        "values": info.values,
    });
    std::fs::write(dir.join("meta.json"), meta.to_string()).map_err(|e| e.to_string())?;
    println!("{}: {} arrays to {}", checkpoint.display(), arrays(&info).len(), dir.display());
    Ok(())
}

fn import(dir: &Path, checkpoint: &Path) -> Result<(), String> {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("meta.json")).map_err(|e| format!("{}/meta.json: {e}", dir.display()))?,
    )
    .map_err(|e| format!("meta.json: {e}"))?;
    let field = |path: &[&str]| -> Result<&serde_json::Value, String> {
        path.iter().try_fold(&meta, |v, k| v.get(k).ok_or(format!("meta.json has no {}", path.join("."))))
    };
    let number = |path: &[&str]| -> Result<usize, String> {
        field(path)?.as_u64().map(|v| v as usize).ok_or(format!("meta.json: {} is not a number", path.join(".")))
    };
    let dims = Dims {
        input: number(&["dims", "input"])?,
        hidden: number(&["dims", "hidden"])?,
        repr: number(&["dims", "repr"])?,
        expander_hidden: number(&["dims", "expander_hidden"])?,
        embed: number(&["dims", "embed"])?,
    };
    let info = Info {
        dims,
        batch_norm: field(&["batch_norm"])?.as_bool().unwrap_or(true),
        final_bias: field(&["final_bias"])?.as_bool().unwrap_or(false),
        optimizer_kind: u8::try_from(number(&["optimizer_kind"])?).map_err(|e| e.to_string())?,
        steps: u32::try_from(number(&["steps"])?).map_err(|e| e.to_string())?,
        optimizer_steps: u32::try_from(number(&["optimizer_steps"])?).map_err(|e| e.to_string())?,
        values: number(&["values"])?,
    };
    let mut values = Vec::with_capacity(info.values);
    for (name, shape) in arrays(&info) {
        let path = dir.join(format!("{name}.npy"));
        let (found, data) = npy::decode(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if found != shape {
            return Err(format!("{}: shape {found:?}, expected {shape:?}", path.display()));
        }
        values.extend(data);
    }
    let mut out = vec![0u8; checkpoint::HEADER_BYTES + 4 * values.len() + checkpoint::TRAILER_BYTES];
    let len = checkpoint::assemble(&info, &values, &mut out).map_err(|e| e.to_string())?;
    checkpoint::inspect(&out[..len]).map_err(|e| format!("the assembled checkpoint is not valid: {e}"))?;
    std::fs::write(checkpoint, &out[..len]).map_err(|e| format!("{}: {e}", checkpoint.display()))?;
    println!("{}: {len} bytes from {}", checkpoint.display(), dir.display());
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["export", checkpoint, dir] => export(Path::new(checkpoint), Path::new(dir)),
        ["import", dir, checkpoint] => import(Path::new(dir), Path::new(checkpoint)),
        _ => {
            eprintln!("usage: checkpoint-npy export CHECKPOINT DIR | checkpoint-npy import DIR CHECKPOINT");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("checkpoint-npy: {e}");
            ExitCode::FAILURE
        }
    }
}
