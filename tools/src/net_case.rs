//! `mlp` and `net` cases: a Siamese network's forward pass and parameter
//! gradients. An `mlp` case is read as the layer list it describes, so one
//! path computes both kinds.

use crate::vectors::{Agreement, CaseConfig, LossScalars, MLP_TOL, Matrix, array_agreements, flatten};
use serde_json::Value;
use std::collections::BTreeMap;
use vicreg::nn::{AllKinds, Layer, Net, NormConfig, Pass, Place, Shape, Siamese};
use vicreg::{Error, Options};

/// One layer of a case: what it is, and its tensors by the schema's keys
/// (`w`, `b`, `gamma`, `beta`), flattened.
#[derive(Clone, Debug)]
pub struct CaseLayer {
    /// The layer.
    pub layer: Layer,
    /// BatchNorm's eps.
    pub eps: Option<f64>,
    /// Parameters by key.
    pub tensors: BTreeMap<String, Vec<f64>>,
}

/// A `kind: "mlp"` or `kind: "net"` case.
#[derive(Clone, Debug)]
pub struct NetCase {
    /// The file's stem.
    pub name: String,
    /// `mlp` or `net`.
    pub kind: String,
    /// Rows.
    pub n: usize,
    /// One input sample's shape.
    pub input: Shape,
    /// The layers, in order.
    pub layers: Vec<CaseLayer>,
    /// Layers in the encoder.
    pub encoder_layers: usize,
    /// Loss coefficients.
    pub config: CaseConfig,
    /// Inputs of view a, flat rows.
    pub x_a: Matrix,
    /// Inputs of view b.
    pub x_b: Matrix,
    /// Loss and terms.
    pub scalars: LossScalars,
    /// Representation of view a.
    pub repr_a: Matrix,
    /// Embedding of view a.
    pub embed_a: Matrix,
    /// ∂ℓ/∂ each layer's parameters, by key.
    pub grads: Vec<BTreeMap<String, Vec<f64>>>,
}

fn numbers(v: &Value) -> Result<Vec<f64>, String> {
    match v {
        Value::Number(n) => n.as_f64().map(|x| vec![x]).ok_or_else(|| "not a number".into()),
        Value::Array(items) => {
            let mut out = Vec::new();
            for item in items {
                out.extend(numbers(item)?);
            }
            Ok(out)
        }
        other => Err(format!("expected numbers, found {other}")),
    }
}

fn matrix(v: &Value, what: &str) -> Result<Matrix, String> {
    v.as_array()
        .ok_or(format!("{what} is not an array of rows"))?
        .iter()
        .map(|row| numbers(row).map_err(|e| format!("{what}: {e}")))
        .collect()
}

fn field<'v>(v: &'v Value, key: &str) -> Result<&'v Value, String> {
    v.get(key).ok_or(format!("no field `{key}`"))
}

fn usize_field(v: &Value, key: &str) -> Result<usize, String> {
    field(v, key)?.as_u64().and_then(|x| usize::try_from(x).ok()).ok_or(format!("`{key}` is not a count"))
}

fn tensors(v: &Value, keys: &[&str]) -> Result<BTreeMap<String, Vec<f64>>, String> {
    let mut out = BTreeMap::new();
    for key in keys {
        match v.get(*key) {
            None | Some(Value::Null) => {}
            Some(t) => {
                out.insert((*key).to_owned(), numbers(t)?);
            }
        }
    }
    Ok(out)
}

/// One `net` layer object as a core layer.
fn net_layer(v: &Value) -> Result<CaseLayer, String> {
    let layer = crate::layers::from_json(v)?;
    Ok(CaseLayer {
        layer,
        eps: v.get("eps").and_then(Value::as_f64),
        tensors: tensors(v, &["w", "b", "gamma", "beta"])?,
    })
}

/// Parses a `net` case, or an `mlp` case as its layer list.
pub fn parse(value: &Value) -> Result<NetCase, String> {
    let kind = field(value, "kind")?.as_str().ok_or("`kind` is not a string")?.to_owned();
    let (input, layers, encoder_layers, grads) = match kind.as_str() {
        "net" => {
            let shape = numbers(field(value, "input_shape")?)?;
            let dim = |x: f64| if x >= 1.0 && x.fract() == 0.0 { Ok(x as usize) } else { Err(format!("bad size {x}")) };
            let input = match shape.as_slice() {
                [d] => Shape::Flat(dim(*d)?),
                [c, t] => Shape::Map { channels: dim(*c)?, length: dim(*t)? },
                [c, h, w] => Shape::Image { channels: dim(*c)?, height: dim(*h)?, width: dim(*w)? },
                _ => return Err(format!("input_shape {shape:?}")),
            };
            let layers: Vec<CaseLayer> = field(value, "layers")?
                .as_array()
                .ok_or("`layers` is not a list")?
                .iter()
                .map(net_layer)
                .collect::<Result<_, _>>()?;
            let grads = field(value, "grads")?
                .as_array()
                .ok_or("`grads` is not a list")?
                .iter()
                .map(|g| tensors(g, &["w", "b", "gamma", "beta"]))
                .collect::<Result<Vec<_>, _>>()?;
            (input, layers, usize_field(value, "repr_after")? + 1, grads)
        }
        "mlp" => {
            let dims = field(value, "dims")?;
            let batch_norm = match field(value, "arch")?.as_str() {
                Some("A") => false,
                Some("B") => true,
                other => return Err(format!("arch {other:?}")),
            };
            let eps = value.get("bn_eps").and_then(Value::as_f64).unwrap_or(1e-5);
            let layer_obj = |name: &str| field(field(value, "layers")?, name).cloned();
            let grad_obj = |name: &str| field(field(value, "grads")?, name).cloned();
            let linear = |name: &str, out: &str| -> Result<(CaseLayer, BTreeMap<String, Vec<f64>>), String> {
                let l = CaseLayer {
                    layer: Layer::linear(usize_field(dims, out)?),
                    eps: None,
                    tensors: tensors(&layer_obj(name)?, &["w", "b"])?,
                };
                Ok((l, tensors(&grad_obj(name)?, &["w", "b"])?))
            };
            let plain = |layer| (CaseLayer { layer, eps: None, tensors: BTreeMap::new() }, BTreeMap::new());
            let mut list = vec![
                linear("enc1", "hidden")?,
                plain(Layer::ReLU),
                linear("enc2", "repr")?,
                linear("exp1", "expander_hidden")?,
            ];
            if batch_norm {
                let bn = CaseLayer {
                    layer: Layer::BatchNorm,
                    eps: Some(eps),
                    tensors: tensors(&layer_obj("bn1")?, &["gamma", "beta"])?,
                };
                list.push((bn, tensors(&grad_obj("bn1")?, &["gamma", "beta"])?));
            }
            list.push(plain(Layer::ReLU));
            list.push(linear("exp2", "embed")?);
            let (layers, grads) = list.into_iter().unzip();
            (Shape::Flat(usize_field(dims, "input")?), layers, 3, grads)
        }
        other => return Err(format!("kind {other:?} is not a network case")),
    };
    let expected = field(value, "expected")?;
    Ok(NetCase {
        name: field(value, "name")?.as_str().unwrap_or("?").to_owned(),
        kind,
        n: usize_field(value, "n")?,
        input,
        layers,
        encoder_layers,
        config: serde_json::from_value(field(value, "config")?.clone()).map_err(|e| e.to_string())?,
        x_a: matrix(field(value, "x_a")?, "x_a")?,
        x_b: matrix(field(value, "x_b")?, "x_b")?,
        scalars: serde_json::from_value(expected.clone()).map_err(|e| e.to_string())?,
        repr_a: matrix(field(expected, "repr_a")?, "repr_a")?,
        embed_a: matrix(field(expected, "embed_a")?, "embed_a")?,
        grads,
    })
}

/// The schema's keys for a layer's weight and bias.
pub fn keys(layer: Layer) -> [&'static str; 2] {
    if layer == Layer::BatchNorm { ["gamma", "beta"] } else { ["w", "b"] }
}

/// What the core computed for a case.
#[derive(Clone, Debug)]
pub struct NetOutput {
    /// Loss and terms.
    pub scalars: LossScalars,
    /// Representation of view a, row-major.
    pub repr_a: Vec<f64>,
    /// Embedding of view a, row-major.
    pub embed_a: Vec<f64>,
    /// Per layer, the gradients by key.
    pub grads: Vec<BTreeMap<String, Vec<f64>>>,
    /// Per layer, each gradient's shape in PyTorch's layout.
    pub shapes: Vec<BTreeMap<String, Vec<usize>>>,
    /// Width of the representation and of the embedding.
    pub widths: (usize, usize),
}

/// Why a case could not be computed.
#[derive(Debug)]
pub enum NetError {
    /// The case does not describe a network the core runs.
    Unsupported(String),
    /// The core refused the input.
    Core(Error),
}

impl std::fmt::Display for NetError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsupported(why) => f.write_str(why),
            Self::Core(e) => write!(f, "the core refused it: {e}"),
        }
    }
}

impl NetCase {
    /// The core's layer list.
    pub fn core_layers(&self) -> Vec<Layer> {
        self.layers.iter().map(|l| l.layer).collect()
    }

    /// The case's parameters in the core's storage order.
    pub fn parameters(&self, net: &Net<'_>) -> Result<Vec<f32>, NetError> {
        let mut params = vec![0.0f32; net.parameter_count()];
        for t in net.tensors() {
            let key = keys(t.kind)[usize::from(t.role == vicreg::nn::Role::Bias)];
            let values = self.layers[t.layer].tensors.get(key);
            match values {
                Some(v) if v.len() == t.len() => {
                    params[t.range()].iter_mut().zip(v).for_each(|(d, x)| *d = *x as f32);
                }
                _ => {
                    return Err(NetError::Unsupported(format!(
                        "layer {} `{key}` missing or of the wrong size",
                        t.layer
                    )));
                }
            }
        }
        Ok(params)
    }

    /// BatchNorm's eps, one for the whole network.
    pub fn norm(&self) -> Result<NormConfig, NetError> {
        let mut eps = self.layers.iter().filter_map(|l| l.eps);
        let first = eps.next().unwrap_or(1e-5);
        if eps.any(|e| e != first) {
            return Err(NetError::Unsupported("BatchNorm layers with different eps".into()));
        }
        Ok(NormConfig { eps: first as f32, ..NormConfig::TORCH })
    }
}

/// Runs the core's Siamese passes on a case: sets the parameters, computes
/// the forward passes, the loss and the gradients; in one batch, or
/// streamed in micro-batches of `micro` rows.
pub fn compute(case: &NetCase, options: Options, micro: Option<usize>) -> Result<NetOutput, NetError> {
    let layers = case.core_layers();
    if case.encoder_layers == 0 || case.encoder_layers > layers.len() {
        return Err(NetError::Unsupported(format!("repr_after {} of {} layers", case.encoder_layers, layers.len())));
    }
    let (encoder, expander) = layers.split_at(case.encoder_layers);
    let net = Net::new(case.input, encoder, expander);
    let mut places = vec![Place::EMPTY; net.depth()];
    let capacity = micro.unwrap_or(case.n).max(2);
    let siamese = Siamese::<AllKinds>::new(&net, capacity, &mut places).map_err(NetError::Core)?;
    let sizes = siamese.layout().sizes;
    let x_a: Vec<f32> = flatten(&case.x_a).iter().map(|&x| x as f32).collect();
    let x_b: Vec<f32> = flatten(&case.x_b).iter().map(|&x| x as f32).collect();
    if x_a.len() != case.n * sizes.input || x_b.len() != x_a.len() {
        return Err(NetError::Unsupported(format!("inputs are not {}×{}", case.n, sizes.input)));
    }
    let params = case.parameters(&net)?;
    let pass = Pass { loss: case.config.to_core(), options, norm: case.norm()?, ..Pass::default() };
    let mut grads = vec![0.0f32; sizes.parameters];
    // The layout sizes the loss scratch for `Auto`; a side chosen by hand may
    // need a larger square matrix, and the scratch is the workspace's tail.
    let square = vicreg::scratch_len(case.n, sizes.embed, options.side);
    let mut workspace = vec![0.0f32; sizes.workspace - sizes.loss + square.max(sizes.loss)];
    let widen = |s: &[f32]| s.iter().copied().map(f64::from).collect::<Vec<f64>>();
    let (terms, repr, embed) = if let Some(micro) = micro {
        let out = crate::streaming::stream(&siamese, &pass, &params, (&x_a, &x_b), micro).map_err(NetError::Core)?;
        grads = out.grads;
        (out.terms, widen(&out.repr_a), widen(&out.embed_a))
    } else {
        let terms = siamese
            .compute_gradients(&pass, &params, &mut grads, &mut workspace, &x_a, &x_b)
            .map_err(NetError::Core)?;
        let (repr, embed) = siamese.last_forward(&workspace, 0, case.n);
        (terms, widen(repr), widen(embed))
    };
    let mut by_layer = vec![BTreeMap::new(); layers.len()];
    let mut shapes = vec![BTreeMap::new(); layers.len()];
    for t in net.tensors() {
        let key = keys(t.kind)[usize::from(t.role == vicreg::nn::Role::Bias)];
        by_layer[t.layer].insert(key.to_owned(), widen(&grads[t.range()]));
        shapes[t.layer].insert(key.to_owned(), t.dims[..t.rank].to_vec());
    }
    Ok(NetOutput {
        scalars: terms.into(),
        repr_a: repr,
        embed_a: embed,
        grads: by_layer,
        shapes,
        widths: (sizes.repr, sizes.embed),
    })
}

/// Compares the output with the case under the `mlp`/`net` tolerance: the
/// four scalars, each expected array on its own scale, and the gradients on
/// the scale of all of them together. A gradient the case holds and the core
/// did not compute (or the reverse) fails.
pub fn judge(case: &NetCase, out: &NetOutput) -> Vec<Agreement> {
    let mut all = case.scalars.agreements(&out.scalars, MLP_TOL);
    let (repr, embed) = (flatten(&case.repr_a), flatten(&case.embed_a));
    all.extend(array_agreements(&[("repr_a", &repr, &out.repr_a)], MLP_TOL));
    all.extend(array_agreements(&[("embed_a", &embed, &out.embed_a)], MLP_TOL));
    let empty = BTreeMap::new();
    let mut pairs: Vec<(String, &[f64], &[f64])> = Vec::new();
    for i in 0..case.grads.len().max(out.grads.len()) {
        let (expected, got) = (case.grads.get(i).unwrap_or(&empty), out.grads.get(i).unwrap_or(&empty));
        for key in expected.keys().chain(got.keys().filter(|k| !expected.contains_key(*k))) {
            let e = expected.get(key).map_or(&[][..], Vec::as_slice);
            let g = got.get(key).map_or(&[][..], Vec::as_slice);
            // A missing side compares an empty array with a full one: infinite error.
            let g = if e.is_empty() != g.is_empty() { &[f64::NAN][..] } else { g };
            pairs.push((format!("{i}.{key}"), e, g));
        }
    }
    let refs: Vec<(&str, &[f64], &[f64])> = pairs.iter().map(|(n, e, g)| (n.as_str(), *e, *g)).collect();
    all.extend(array_agreements(&refs, MLP_TOL));
    all
}
