//! `crosscheck [--emit OUT_DIR] [--side auto|feature|batch] [--lanes wide|scalar] [--micro-batch K] FILES_OR_DIRS…`
//!
//! Computes every reference case with the core, prints one line per case with
//! its worst error as a fraction of the tolerance, and ends with
//! `N passed, M failed`; exits non-zero if any case failed or could not be
//! read. With `--emit`, writes what it computed for each case to
//! `OUT_DIR/<case file name>` in the schema's "emitted results" form. With
//! `--micro-batch K`, every `mlp` and `net` case is computed by the
//! streaming path (`vicreg::nn::Stream`), K rows at a time, the last
//! micro-batch shorter where K does not divide n.

use clap::{Parser, ValueEnum};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use vicreg::{CovarianceSide, Lanes, Options};
use vicreg_tools::cases::{Case, case_files, read_case};
use vicreg_tools::loss_case;
use vicreg_tools::net_case::{self, NetCase};
use vicreg_tools::vectors::Agreement;
use vicreg_tools::vectors::rows;
use vicreg_tools::worst;

/// Computes every reference case with the core and prints one line per case with its worst error as a fraction of the tolerance
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Write what was computed for each case to OUT_DIR/CASE.json [default: none]
    #[arg(long, value_name = "OUT_DIR")]
    emit: Option<PathBuf>,
    /// The covariance formulation
    #[arg(long, value_enum, default_value_t = Side::Auto)]
    side: Side,
    /// Scalar or SIMD primitives
    #[arg(long, value_enum, default_value_t = LanesArg::Wide)]
    lanes: LanesArg,
    /// Compute mlp and net cases by the streaming path, K rows at a time [default: one batch]
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u64).range(1..))]
    micro_batch: Option<u64>,
    /// Case files, or folders of *.json case files
    #[arg(required = true, value_name = "FILES_OR_DIRS")]
    inputs: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Side {
    Auto,
    Feature,
    Batch,
}

#[derive(Clone, Copy, ValueEnum)]
enum LanesArg {
    Wide,
    Scalar,
}

impl Args {
    fn options(&self) -> Options {
        let side = match self.side {
            Side::Auto => CovarianceSide::Auto,
            Side::Feature => CovarianceSide::FeatureSide,
            Side::Batch => CovarianceSide::BatchSide,
        };
        let lanes = match self.lanes {
            LanesArg::Wide => Lanes::Wide,
            LanesArg::Scalar => Lanes::Scalar,
        };
        Options { side, lanes }
    }

    fn micro(&self) -> Option<usize> {
        self.micro_batch.and_then(|k| usize::try_from(k).ok())
    }
}

enum Outcome {
    Pass,
    Fail,
}

fn run_case(path: &Path, args: &Args) -> Outcome {
    let label = path.file_stem().map_or_else(|| path.display().to_string(), |s| s.to_string_lossy().into_owned());
    let case = match read_case(path) {
        Ok(case) => case,
        Err(e) => {
            println!("FAIL {label}: cannot read: {e}");
            return Outcome::Fail;
        }
    };
    match case {
        Case::Unsupported { name, kind } => {
            // A case this tool cannot compute is not a case it passed.
            println!("FAIL {name}: kind \"{kind}\" is not handled by this tool");
            Outcome::Fail
        }
        Case::Loss(case) => {
            let out = match loss_case::compute(&case, args.options()) {
                Ok(out) => out,
                Err(e) => {
                    println!("FAIL {} (loss n={} d={}): the core refused it: {e}", case.name, case.n, case.d);
                    return Outcome::Fail;
                }
            };
            let agreements = loss_case::judge(&case, &out);
            let label = format!("{} (loss n={} d={})", case.name, case.n, case.d);
            let pass = report(&label, &agreements, 4);
            if let Some(dir) = &args.emit {
                let json = serde_json::json!({
                    "kind": "loss",
                    "name": case.name,
                    "n": case.n,
                    "d": case.d,
                    "expected": out.scalars,
                    "grad_z_a": rows(&out.grad_a, case.d),
                    "grad_z_b": rows(&out.grad_b, case.d),
                });
                if let Err(e) = emit(dir, path, &json) {
                    println!("FAIL {}: cannot emit: {e}", case.name);
                    return Outcome::Fail;
                }
            }
            if pass { Outcome::Pass } else { Outcome::Fail }
        }
        Case::Net(case) => run_net(path, &case, args),
    }
}

/// Prints a case's line: its worst scalar, and its worst array or gradient
/// (the agreements after the first `scalars`). Returns whether it passed.
fn report(label: &str, agreements: &[Agreement], scalars: usize) -> bool {
    let pass = agreements.iter().all(|a| a.ratio <= 1.0);
    let scalar = worst(&agreements[..scalars]).map_or(0.0, |a| a.ratio);
    let arrays = worst(&agreements[scalars..]);
    let culprit = worst(agreements).map_or("", |a| a.what.as_str());
    println!(
        "{} {label}: worst scalar {:.2}% of tol, worst array {:.2}% of tol ({}){}",
        if pass { "PASS" } else { "FAIL" },
        100.0 * scalar,
        100.0 * arrays.map_or(0.0, |a| a.ratio),
        arrays.map_or("", |a| a.what.as_str()),
        if pass { String::new() } else { format!(" — worst: {culprit}") }
    );
    pass
}

/// A flat array nested to `dims` (rows of rows), as the schema writes it.
fn nest(values: &[f64], dims: &[usize]) -> serde_json::Value {
    match dims {
        [] | [_] => serde_json::json!(values),
        [_, rest @ ..] => {
            let inner: usize = rest.iter().product();
            serde_json::Value::Array(values.chunks(inner.max(1)).map(|c| nest(c, rest)).collect())
        }
    }
}

fn run_net(path: &Path, case: &NetCase, args: &Args) -> Outcome {
    let label = match args.micro() {
        Some(k) => format!("{} ({} n={}, micro-batches of {k})", case.name, case.kind, case.n),
        None => format!("{} ({} n={})", case.name, case.kind, case.n),
    };
    let out = match net_case::compute(case, args.options(), args.micro()) {
        Ok(out) => out,
        Err(e) => {
            println!("FAIL {label}: {e}");
            return Outcome::Fail;
        }
    };
    let pass = report(&label, &net_case::judge(case, &out), 4);
    if let Some(dir) = &args.emit {
        let grads: Vec<serde_json::Value> = out
            .grads
            .iter()
            .zip(&out.shapes)
            .map(|(layer, shapes)| {
                let entries = layer.iter().map(|(key, g)| (key.clone(), nest(g, &shapes[key])));
                serde_json::Value::Object(entries.collect())
            })
            .collect();
        let mut expected = serde_json::to_value(out.scalars).unwrap_or_default();
        expected["repr_a"] = serde_json::json!(rows(&out.repr_a, out.widths.0));
        expected["embed_a"] = serde_json::json!(rows(&out.embed_a, out.widths.1));
        // `mlp` cases name their gradients by layer, `net` cases list them.
        let grads = if case.kind == "mlp" { mlp_grads(case, &grads) } else { serde_json::json!(grads) };
        let json = serde_json::json!({
            "kind": case.kind, "name": case.name, "n": case.n, "expected": expected, "grads": grads,
        });
        if let Err(e) = emit(dir, path, &json) {
            println!("FAIL {}: cannot emit: {e}", case.name);
            return Outcome::Fail;
        }
    }
    if pass { Outcome::Pass } else { Outcome::Fail }
}

/// An `mlp` case's gradients under its layer names (`enc1`, …, `bn1`, `exp2`).
fn mlp_grads(case: &NetCase, by_index: &[serde_json::Value]) -> serde_json::Value {
    let names: &[&str] = if case.layers.len() == 7 {
        &["enc1", "", "enc2", "exp1", "bn1", "", "exp2"]
    } else {
        &["enc1", "", "enc2", "exp1", "", "exp2"]
    };
    let map = names
        .iter()
        .zip(by_index)
        .filter(|(name, _)| !name.is_empty())
        .map(|(name, g)| ((*name).to_owned(), g.clone()));
    serde_json::Value::Object(map.collect())
}

fn emit(dir: &Path, case_path: &Path, json: &serde_json::Value) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let name = case_path.file_name().unwrap_or_default();
    std::fs::write(dir.join(name), serde_json::to_string(json)?)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let files = match case_files(&args.inputs) {
        Ok(files) => files,
        Err(e) => {
            eprintln!("crosscheck: {e}");
            return ExitCode::from(2);
        }
    };
    if files.is_empty() {
        eprintln!("crosscheck: no *.json case files in {:?}", args.inputs);
        return ExitCode::from(2);
    }
    let (mut passed, mut failed) = (0, 0);
    for file in &files {
        match run_case(file, &args) {
            Outcome::Pass => passed += 1,
            Outcome::Fail => failed += 1,
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 && passed == files.len() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
