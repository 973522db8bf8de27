//! `mlp` cases: the Siamese network's forward pass and parameter gradients.

use crate::vectors::{Agreement, CaseConfig, LossScalars, MLP_TOL, Matrix, array_agreements, flatten};
use serde::Deserialize;
use std::collections::BTreeMap;
use vicreg::{Arch, Error, Parameters, Sgd, Tensor, Trainer, TrainerConfig};

/// The network widths of an `mlp` case.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub struct CaseDims {
    /// Input features.
    pub input: usize,
    /// Encoder hidden width.
    pub hidden: usize,
    /// Representation width.
    pub repr: usize,
    /// Expander hidden width.
    pub expander_hidden: usize,
    /// Embedding width.
    pub embed: usize,
}

/// The expected forward outputs and loss terms.
#[derive(Clone, Debug, Deserialize)]
pub struct MlpExpected {
    /// Loss and terms.
    #[serde(flatten)]
    pub scalars: LossScalars,
    /// Representation of view a, n×repr.
    pub repr_a: Matrix,
    /// Embedding of view a, n×embed.
    pub embed_a: Matrix,
}

/// One layer's tensors as the schema names them (`w`, `b`, `gamma`, `beta`).
pub type LayerTensors = BTreeMap<String, serde_json::Value>;

/// A `kind: "mlp"` case.
#[derive(Clone, Debug, Deserialize)]
pub struct MlpCase {
    /// The file's stem.
    pub name: String,
    /// "A" (no BatchNorm) or "B" (BatchNorm).
    pub arch: String,
    /// Rows.
    pub n: usize,
    /// Widths.
    pub dims: CaseDims,
    /// BatchNorm eps (arch B).
    #[serde(default)]
    pub bn_eps: Option<f64>,
    /// Loss coefficients.
    pub config: CaseConfig,
    /// Parameters by layer.
    pub layers: BTreeMap<String, LayerTensors>,
    /// Inputs of view a, n×input.
    pub x_a: Matrix,
    /// Inputs of view b, n×input.
    pub x_b: Matrix,
    /// Forward outputs and loss.
    pub expected: MlpExpected,
    /// ∂ℓ/∂ every parameter, same keys as `layers`.
    pub grads: BTreeMap<String, LayerTensors>,
}

impl From<CaseDims> for vicreg::Dims {
    fn from(d: CaseDims) -> Self {
        Self { input: d.input, hidden: d.hidden, repr: d.repr, expander_hidden: d.expander_hidden, embed: d.embed }
    }
}

/// The widths this build's `mlp` checker is compiled for (every shipped case).
pub const DIMS: CaseDims = CaseDims { input: 12, hidden: 24, repr: 16, expander_hidden: 32, embed: 32 };
/// The largest batch the schema allows.
pub const MAX_N: usize = 256;

type CaseTrainer = Trainer<MAX_N, 12, 24, 16, 32, 32, 32, Sgd<12, 24, 16, 32, 32>>;

/// Where each tensor lives in the schema: (layer, key).
pub fn schema_key(t: Tensor) -> (&'static str, &'static str) {
    match t {
        Tensor::Enc1Weight => ("enc1", "w"),
        Tensor::Enc1Bias => ("enc1", "b"),
        Tensor::Enc2Weight => ("enc2", "w"),
        Tensor::Enc2Bias => ("enc2", "b"),
        Tensor::Exp1Weight => ("exp1", "w"),
        Tensor::Exp1Bias => ("exp1", "b"),
        Tensor::NormScale => ("bn1", "gamma"),
        Tensor::NormShift => ("bn1", "beta"),
        Tensor::Exp2Weight => ("exp2", "w"),
        Tensor::Exp2Bias => ("exp2", "b"),
    }
}

/// A tensor of the schema (a matrix or a vector) flattened row by row.
fn tensor_values(layers: &BTreeMap<String, LayerTensors>, t: Tensor) -> Option<Vec<f64>> {
    let (layer, key) = schema_key(t);
    let value = layers.get(layer)?.get(key)?;
    let mut out = Vec::new();
    let push = |v: &serde_json::Value, out: &mut Vec<f64>| v.as_f64().map(|x| out.push(x));
    for item in value.as_array()? {
        if let Some(row) = item.as_array() {
            for v in row {
                push(v, &mut out)?;
            }
        } else {
            push(item, &mut out)?;
        }
    }
    Some(out)
}

/// What the core computed for an `mlp` case.
#[derive(Clone, Debug)]
pub struct MlpOutput {
    /// Loss and terms.
    pub scalars: LossScalars,
    /// Representation of view a, row-major.
    pub repr_a: Vec<f64>,
    /// Embedding of view a, row-major.
    pub embed_a: Vec<f64>,
    /// Gradients by tensor, in [`Tensor::ALL`] order (absent tensors empty).
    pub grads: Vec<(Tensor, Vec<f64>)>,
}

/// Why a case could not be computed.
#[derive(Debug)]
pub enum MlpError {
    /// The case's shape is outside what this build handles.
    Unsupported(String),
    /// The core refused the input.
    Core(Error),
}

impl std::fmt::Display for MlpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported(why) => f.write_str(why),
            Self::Core(e) => write!(f, "the core refused it: {e}"),
        }
    }
}

fn rows<const W: usize>(m: &Matrix) -> Vec<[f32; W]> {
    m.iter().map(|r| core::array::from_fn(|j| r.get(j).copied().unwrap_or(f64::NAN) as f32)).collect()
}

/// Runs the core's Siamese network on a case: sets the parameters, computes
/// the forward passes, the loss and the gradients.
pub fn compute(case: &MlpCase) -> Result<MlpOutput, MlpError> {
    if case.dims != DIMS {
        return Err(MlpError::Unsupported(format!("widths {:?}: this build checks {:?}", case.dims, DIMS)));
    }
    if !(2..=MAX_N).contains(&case.n) || case.x_a.len() != case.n || case.x_b.len() != case.n {
        return Err(MlpError::Unsupported(format!(
            "n = {} with {} and {} input rows",
            case.n,
            case.x_a.len(),
            case.x_b.len()
        )));
    }
    let batch_norm = match case.arch.as_str() {
        "A" => false,
        "B" => true,
        other => return Err(MlpError::Unsupported(format!("arch {other:?}"))),
    };
    let arch = Arch { batch_norm, final_bias: true, bn_eps: case.bn_eps.unwrap_or(1e-5) as f32, bn_momentum: 0.1 };
    let config = TrainerConfig { loss: case.config.to_core(), arch, ..TrainerConfig::new(0.0) };
    let mut trainer: Box<CaseTrainer> = Box::new(Trainer::new(config, Sgd::new(0.0, 0.0)));

    let params: &mut Parameters<12, 24, 16, 32, 32> = trainer.parameters_mut();
    for (t, dst) in Tensor::ALL.into_iter().zip(params.tensors_mut()) {
        match tensor_values(&case.layers, t) {
            Some(v) if v.len() == dst.len() => dst.iter_mut().zip(v).for_each(|(d, x)| *d = x as f32),
            None if matches!(t, Tensor::NormScale | Tensor::NormShift) && !batch_norm => {}
            _ => {
                return Err(MlpError::Unsupported(format!("tensor {t:?} missing or of the wrong size")));
            }
        }
    }
    let (x_a, x_b) = (rows::<12>(&case.x_a), rows::<12>(&case.x_b));
    let terms = trainer.compute_gradients(&x_a, &x_b).map_err(MlpError::Core)?;
    let widen = |s: &[f32]| s.iter().copied().map(f64::from).collect::<Vec<f64>>();
    let (repr, embed) = trainer.last_forward(0);
    let grads = Tensor::ALL
        .into_iter()
        .zip(trainer.gradients().tensors())
        .filter(|(t, _)| batch_norm || !matches!(t, Tensor::NormScale | Tensor::NormShift))
        .map(|(t, g)| (t, widen(g)))
        .collect();
    Ok(MlpOutput {
        scalars: terms.into(),
        repr_a: widen(repr.as_flattened()),
        embed_a: widen(embed.as_flattened()),
        grads,
    })
}

/// Compares the output with the case under the `mlp` tolerance: the four
/// scalars, each expected array on its own scale, and the gradients on the
/// scale of all of them together.
pub fn judge(case: &MlpCase, out: &MlpOutput) -> Vec<Agreement> {
    let mut all = case.expected.scalars.agreements(&out.scalars, MLP_TOL);
    let (repr, embed) = (flatten(&case.expected.repr_a), flatten(&case.expected.embed_a));
    all.extend(array_agreements(&[("repr_a", &repr, &out.repr_a)], MLP_TOL));
    all.extend(array_agreements(&[("embed_a", &embed, &out.embed_a)], MLP_TOL));
    let expected: Vec<(String, Vec<f64>)> = out
        .grads
        .iter()
        .map(|(t, _)| {
            let (layer, key) = schema_key(*t);
            (format!("{layer}.{key}"), tensor_values(&case.grads, *t).unwrap_or_default())
        })
        .collect();
    let pairs: Vec<(&str, &[f64], &[f64])> = expected
        .iter()
        .zip(&out.grads)
        .map(|((name, e), (_, g))| (name.as_str(), e.as_slice(), g.as_slice()))
        .collect();
    all.extend(array_agreements(&pairs, MLP_TOL));
    all
}
