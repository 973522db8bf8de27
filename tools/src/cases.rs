//! Reading the reference case files: each file's `kind` picks its reader
//! (loss cases here, network cases in [`net_case`]).

use crate::net_case::{self, NetCase};
use crate::vectors::{LossCase, Matrix};
use std::path::{Path, PathBuf};

/// A parsed case file.
#[derive(Clone, Debug)]
pub enum Case {
    /// A loss case.
    Loss(LossCase),
    /// A Siamese-network case (`mlp` or `net`).
    Net(Box<NetCase>),
    /// A kind this tool does not compute; the name and the kind.
    Unsupported {
        /// The case's name.
        name: String,
        /// Its `kind` field.
        kind: String,
    },
}

/// Reads one case file.
pub fn read_case(path: &Path) -> Result<Case, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse_case(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses the text of one case.
pub fn parse_case(text: &str) -> Result<Case, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let kind = value.get("kind").and_then(|k| k.as_str()).ok_or("no string field `kind`")?.to_owned();
    match kind.as_str() {
        "loss" => {
            let case: LossCase = serde_json::from_value(value).map_err(|e| e.to_string())?;
            check_loss_shape(&case)?;
            Ok(Case::Loss(case))
        }
        "mlp" | "net" => Ok(Case::Net(Box::new(net_case::parse(&value)?))),
        _ => Ok(Case::Unsupported { name: value.get("name").and_then(|n| n.as_str()).unwrap_or("?").to_owned(), kind }),
    }
}

fn check_loss_shape(case: &LossCase) -> Result<(), String> {
    let ok = |m: &Matrix| m.len() == case.n && m.iter().all(|r| r.len() == case.d);
    if case.n < 2 || case.d < 1 {
        return Err(format!("n = {}, d = {}: the schema needs n ≥ 2 and d ≥ 1", case.n, case.d));
    }
    if ![&case.z_a, &case.z_b, &case.grad_z_a, &case.grad_z_b].into_iter().all(ok) {
        return Err(format!("an array is not {}×{}", case.n, case.d));
    }
    Ok(())
}

/// Expands files and folders (their `*.json` files, sorted) into a list of
/// case files.
pub fn case_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(arg)
                .map_err(|e| format!("{}: {e}", arg.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            inside.sort();
            files.extend(inside);
        } else if arg.is_file() {
            files.push(arg.clone());
        } else {
            return Err(format!("{}: no such file or folder", arg.display()));
        }
    }
    Ok(files)
}
