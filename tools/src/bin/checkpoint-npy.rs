//! Converts checkpoints to and from `.npy` files, one per tensor, for
//! PyTorch and NumPy.
//!
//! ```text
//! checkpoint-npy export CHECKPOINT DIR   # DIR/0.weight.npy … DIR/meta.json
//! checkpoint-npy import DIR CHECKPOINT
//! ```
//!
//! Tensors are named as `torch.nn.Sequential` names the same layers, by
//! index in the whole list (encoder, then expander): `0.weight` (out×in for
//! a Linear, out×in×kernel for a Conv1d), `0.bias`, `4.weight` and `4.bias`
//! (a BatchNorm's γ and β), `4.running_mean`, `4.running_var`; the
//! optimiser's state follows as `state0.0.weight` … (`state1.*` for AdamW's
//! second moments). A layer without a bias has no bias file. `meta.json`
//! keeps the input shape, the layer list, the optimiser's name and the step
//! counts, and under `training` what the job wrote beside the checkpoint
//! (`CHECKPOINT.json`: the input scaling the data needs, the optimiser's
//! settings, the data).

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vicreg::nn::{Layer, Net};
use vicreg::train::checkpoint::{self, Meta};
use vicreg::{AdamW, Optimizer};
use vicreg_tools::layers::{
    from_json, notes_beside, optimizer_name, payload_arrays, shape_from_json, shape_to_json, to_json,
};
use vicreg_tools::npy;

fn export(checkpoint: &Path, dir: &Path) -> Result<(), String> {
    let bytes = std::fs::read(checkpoint).map_err(|e| format!("{}: {e}", checkpoint.display()))?;
    let info = checkpoint::inspect(&bytes).map_err(|e| format!("{}: {e}", checkpoint.display()))?;
    let layers: Vec<Layer> = info.layers().collect();
    let (encoder, expander) = layers.split_at(info.encoder_layers);
    let net = Net::new(info.input, encoder, expander);
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut values = checkpoint::payload(&bytes);
    let list = payload_arrays(&net, info.optimizer_copies);
    for (name, shape) in &list {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = values.by_ref().take(n).collect();
        linear_probe::output::replace(&dir.join(format!("{name}.npy")), &npy::encode(shape, &data))?;
    }
    let kind = info.meta.optimizer_kind;
    let optimizer = optimizer_name(kind);
    let notes: serde_json::Map<String, serde_json::Value> =
        notes_beside(checkpoint)?.into_iter().map(|(k, v)| (k, serde_json::Value::String(v))).collect();
    let meta = serde_json::json!({
        "input_shape": shape_to_json(info.input),
        "encoder": encoder.iter().map(|l| to_json(*l)).collect::<Vec<_>>(),
        "expander": expander.iter().map(|l| to_json(*l)).collect::<Vec<_>>(),
        "optimizer": optimizer,
        "optimizer_kind": kind,
        "steps": info.meta.steps,
        "optimizer_steps": info.meta.optimizer_steps,
        "training": notes,
    });
    linear_probe::output::replace(
        &dir.join("meta.json"),
        serde_json::to_string_pretty(&meta).unwrap_or_default().as_bytes(),
    )?;
    println!("{}: {} arrays to {}", checkpoint.display(), list.len(), dir.display());
    Ok(())
}

fn import(dir: &Path, checkpoint: &Path) -> Result<(), String> {
    let meta: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("meta.json")).map_err(|e| format!("{}/meta.json: {e}", dir.display()))?,
    )
    .map_err(|e| format!("meta.json: {e}"))?;
    let field = |key: &str| meta.get(key).ok_or(format!("meta.json has no `{key}`"));
    let list = |key: &str| -> Result<Vec<Layer>, String> {
        let layers = field(key)?.as_array().ok_or(format!("meta.json: `{key}` is not a list"))?;
        if layers.len() > Net::MAX_DEPTH {
            return Err(format!("meta.json: `{key}` lists {} layers, more than {}", layers.len(), Net::MAX_DEPTH));
        }
        layers.iter().map(from_json).collect()
    };
    let number = |key: &str| -> Result<u32, String> {
        field(key)?.as_u64().and_then(|v| u32::try_from(v).ok()).ok_or(format!("meta.json: `{key}` is not a count"))
    };
    let (encoder, expander) = (list("encoder")?, list("expander")?);
    let net = Net::new(shape_from_json(field("input_shape")?)?, &encoder, &expander);
    net.check().map_err(|e| format!("meta.json: the layers are not a network: {e}"))?;
    let meta = Meta {
        optimizer_kind: u8::try_from(number("optimizer_kind")?).map_err(|e| e.to_string())?,
        steps: number("steps")?,
        optimizer_steps: number("optimizer_steps")?,
    };
    let copies = match meta.optimizer_kind {
        0 => 0,
        k if k == AdamW::KIND => 2,
        _ => 1,
    };
    let mut values = Vec::new();
    for (name, shape) in payload_arrays(&net, copies) {
        let path = dir.join(format!("{name}.npy"));
        let (found, data) = npy::decode(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if found != shape {
            return Err(format!("{}: shape {found:?}, expected {shape:?}", path.display()));
        }
        if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
            return Err(format!("{}: holds {bad}; a checkpoint holds finite values only", path.display()));
        }
        values.extend(data);
    }
    let mut out = vec![0u8; checkpoint::len(&net, copies)];
    let len = checkpoint::assemble(&net, &meta, &values, &mut out).map_err(|e| e.to_string())?;
    checkpoint::inspect(&out[..len]).map_err(|e| format!("the assembled checkpoint is not valid: {e}"))?;
    linear_probe::output::replace(checkpoint, &out[..len])?;
    println!("{}: {len} bytes from {}", checkpoint.display(), dir.display());
    Ok(())
}

/// Converts device checkpoints to and from .npy files, one per tensor, for PyTorch and NumPy
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes DIR/NAME.npy for every tensor, and DIR/meta.json
    Export {
        /// The device checkpoint
        checkpoint: PathBuf,
        /// The folder to write (created if missing)
        dir: PathBuf,
    },
    /// Reads DIR/meta.json and the .npy files into a checkpoint
    Import {
        /// The folder an export wrote
        dir: PathBuf,
        /// The device checkpoint to write
        checkpoint: PathBuf,
    },
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Export { checkpoint, dir } => export(&checkpoint, &dir),
        Command::Import { dir, checkpoint } => import(&dir, &checkpoint),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("checkpoint-npy: {e}");
            ExitCode::FAILURE
        }
    }
}
