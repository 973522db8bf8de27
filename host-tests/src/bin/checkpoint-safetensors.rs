//! Converts checkpoints to and from `.safetensors` files for PyTorch.
//!
//! ```text
//! checkpoint-safetensors export CHECKPOINT OUT.safetensors
//! checkpoint-safetensors import IN.safetensors CHECKPOINT [--like TEMPLATE]
//! ```
//!
//! Tensors are named as a `torch.nn.Sequential` of the same layers names
//! them; see `host_tests::torch` for the layout. A file this tool wrote
//! carries its network in its metadata; for one PyTorch wrote, `--like`
//! names a checkpoint of the same network.

use std::path::Path;
use std::process::ExitCode;

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn run(args: &[&str]) -> Result<String, String> {
    match args {
        ["export", checkpoint, out] => {
            let bytes = host_tests::torch::export(&read(Path::new(checkpoint))?)?;
            std::fs::write(out, &bytes).map_err(|e| format!("{out}: {e}"))?;
            Ok(format!("{checkpoint}: {} bytes of safetensors to {out}", bytes.len()))
        }
        ["import", file, checkpoint, rest @ ..] => {
            let like = match rest {
                [] => None,
                ["--like", template] => Some(read(Path::new(template))?),
                _ => return Err("import takes IN.safetensors CHECKPOINT [--like TEMPLATE]".into()),
            };
            let bytes = host_tests::torch::import(&read(Path::new(file))?, like.as_deref())?;
            std::fs::write(checkpoint, &bytes).map_err(|e| format!("{checkpoint}: {e}"))?;
            Ok(format!("{checkpoint}: {} bytes from {file}", bytes.len()))
        }
        _ => Err(String::new()),
    }
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match run(&args) {
        Ok(done) => {
            println!("{done}");
            ExitCode::SUCCESS
        }
        Err(e) if e.is_empty() => {
            eprintln!(
                "usage: checkpoint-safetensors export CHECKPOINT OUT.safetensors | checkpoint-safetensors import IN.safetensors CHECKPOINT [--like TEMPLATE]"
            );
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("checkpoint-safetensors: {e}");
            ExitCode::FAILURE
        }
    }
}
