//! Converts checkpoints to and from `.safetensors` files for PyTorch.
//!
//! ```text
//! checkpoint-safetensors export CHECKPOINT OUT.safetensors
//! checkpoint-safetensors import IN.safetensors CHECKPOINT [--like TEMPLATE]
//! ```
//!
//! Tensors are named as a `torch.nn.Sequential` of the same layers names
//! them; see `vicreg_tools::torch` for the layout. A file this tool wrote
//! carries its network in its metadata; for one PyTorch wrote, `--like`
//! names a checkpoint of the same network.

use clap::{Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Converts device checkpoints to and from `.safetensors` files for PyTorch
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Writes a checkpoint's tensors under `torch.nn.Sequential` names
    Export {
        /// The device checkpoint
        checkpoint: PathBuf,
        /// The .safetensors file to write
        out: PathBuf,
    },
    /// Reads a .safetensors file (this tool's, or one PyTorch saved) into a checkpoint
    Import {
        /// The .safetensors file
        file: PathBuf,
        /// The device checkpoint to write
        checkpoint: PathBuf,
        /// A checkpoint of the same network, for a file without this tool's metadata [default: none]
        #[arg(long, value_name = "TEMPLATE")]
        like: Option<PathBuf>,
    },
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(command: &Command) -> Result<String, String> {
    match command {
        Command::Export { checkpoint, out } => {
            let notes = vicreg_tools::layers::notes_beside(checkpoint)?;
            let bytes = vicreg_tools::torch::export(&read(checkpoint)?, &notes)?;
            // Whole or not at all: an existing file is replaced only by a complete one.
            linear_probe::output::replace(out, &bytes)?;
            Ok(format!("{}: {} bytes of safetensors to {}", checkpoint.display(), bytes.len(), out.display()))
        }
        Command::Import { file, checkpoint, like } => {
            let like = like.as_deref().map(read).transpose()?;
            let imported = vicreg_tools::torch::import(&read(file)?, like.as_deref())?;
            linear_probe::output::replace(checkpoint, &imported.bytes)?;
            let mut said = format!("{}: {} bytes from {}", checkpoint.display(), imported.bytes.len(), file.display());
            imported.remarks().iter().for_each(|r| said.push_str(&format!("\n  {r}")));
            Ok(said)
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(&cli.command) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("checkpoint-safetensors: {e}");
            ExitCode::FAILURE
        }
    }
}
