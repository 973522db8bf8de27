//! Checkpoints to and from `.safetensors` files, the format PyTorch writes
//! with `safetensors.torch.save_file`. Tensors are named as a
//! `torch.nn.Sequential` of the same layers names them (`0.weight`,
//! `0.bias`, `4.running_mean`, `4.running_var`, `4.num_batches_tracked`), in
//! PyTorch's layouts (Linear out×in, Conv1d out×in×kernel, Conv2d out×in×K_h×K_w); an optimiser's
//! state follows as `state0.…`, `state1.…`. The file's metadata records the
//! input shape, the layer list, the optimiser and the step counts, so an
//! exported checkpoint comes back byte for byte; a file PyTorch wrote (no
//! such metadata) is read against the network of a template checkpoint.

use crate::layers::{from_json, payload_arrays, shape_from_json, shape_to_json, to_json};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use vicreg::nn::{Layer, Net};
use vicreg::train::checkpoint::{self, Meta};

/// The network a checkpoint holds, as owned layers.
struct Network {
    input: vicreg::nn::Shape,
    layers: Vec<Layer>,
    encoder: usize,
}

impl Network {
    fn net(&self) -> Net<'_> {
        let (e, x) = self.layers.split_at(self.encoder);
        Net::new(self.input, e, x)
    }
}

fn network_of(ckpt: &[u8]) -> Result<(Network, Meta, usize), String> {
    let info = checkpoint::inspect(ckpt).map_err(|e| e.to_string())?;
    Ok((
        Network { input: info.input, layers: info.layers().collect(), encoder: info.encoder_layers },
        info.meta,
        info.optimizer_copies,
    ))
}

/// A checkpoint as a `.safetensors` file; `notes` (what the training job
/// wrote beside the checkpoint: the input scaling, the optimiser's
/// settings) join the metadata as `training.<key>`.
///
/// # Errors
///
/// The checkpoint's refusal, or the writer's.
pub fn export(ckpt: &[u8], notes: &[(String, String)]) -> Result<Vec<u8>, String> {
    let (network, meta, copies) = network_of(ckpt)?;
    let net = network.net();
    let mut values = checkpoint::payload(ckpt);
    let mut owned: Vec<(String, Vec<usize>, Dtype, Vec<u8>)> = Vec::new();
    for (name, shape) in payload_arrays(&net, copies) {
        let n: usize = shape.iter().product();
        let bytes = values.by_ref().take(n).flat_map(f32::to_le_bytes).collect();
        owned.push((name, shape, Dtype::F32, bytes));
    }
    // PyTorch's BatchNorm also keeps a count of the batches it has seen.
    for i in 0..net.depth() {
        if net.layer(i) == Some(Layer::BatchNorm) {
            let seen = 2 * i64::from(meta.steps); // one per view and step
            owned.push((format!("{i}.num_batches_tracked"), Vec::new(), Dtype::I64, seen.to_le_bytes().to_vec()));
        }
    }
    let views: Vec<(String, TensorView<'_>)> = owned
        .iter()
        .map(|(name, shape, dtype, bytes)| Ok((name.clone(), TensorView::new(*dtype, shape.clone(), bytes)?)))
        .collect::<Result<_, safetensors::SafeTensorError>>()
        .map_err(|e| e.to_string())?;
    let layers = |part: &[Layer]| serde_json::Value::Array(part.iter().map(|l| to_json(*l)).collect()).to_string();
    let (encoder, expander) = network.layers.split_at(network.encoder);
    let mut metadata = HashMap::from([
        ("vicreg.input_shape".to_owned(), shape_to_json(network.input).to_string()),
        ("vicreg.optimizer".to_owned(), crate::layers::optimizer_name(meta.optimizer_kind).to_owned()),
        ("vicreg.encoder".to_owned(), layers(encoder)),
        ("vicreg.expander".to_owned(), layers(expander)),
        ("vicreg.optimizer_kind".to_owned(), meta.optimizer_kind.to_string()),
        ("vicreg.steps".to_owned(), meta.steps.to_string()),
        ("vicreg.optimizer_steps".to_owned(), meta.optimizer_steps.to_string()),
    ]);
    metadata.extend(notes.iter().map(|(k, v)| (format!("training.{k}"), v.clone())));
    safetensors::tensor::serialize(views, Some(metadata)).map_err(|e| e.to_string())
}

/// A `.safetensors` file as a checkpoint. The network comes from the file's
/// metadata when this tool wrote it, otherwise from `like` (a checkpoint of
/// the same network, say the one the PyTorch model was exported from); an
/// optimiser's state is read only when the metadata names one.
///
/// # Errors
///
/// A sentence naming what is wrong: no network to read against, a layer
/// list longer than [`Net::MAX_DEPTH`](vicreg::nn::Net::MAX_DEPTH), a
/// missing tensor, one of another shape or dtype, a NaN or an infinity.
pub fn import(file: &[u8], like: Option<&[u8]>) -> Result<Imported, String> {
    let st = SafeTensors::deserialize(file).map_err(|e| format!("not a safetensors file: {e}"))?;
    let (_, header) = SafeTensors::read_metadata(file).map_err(|e| e.to_string())?;
    let ours = header.metadata().as_ref().filter(|m| m.contains_key("vicreg.encoder"));
    let (network, meta, copies) = match (ours, like) {
        (Some(m), _) => {
            let get = |k: &str| m.get(k).ok_or(format!("metadata has no {k}"));
            let list = |k: &str| -> Result<Vec<Layer>, String> {
                let v: serde_json::Value = serde_json::from_str(get(k)?).map_err(|e| format!("{k}: {e}"))?;
                let layers = v.as_array().ok_or(format!("{k} is not a list"))?;
                if layers.len() > vicreg::nn::Net::MAX_DEPTH {
                    return Err(format!("{k} lists {} layers, more than {}", layers.len(), vicreg::nn::Net::MAX_DEPTH));
                }
                layers.iter().map(from_json).collect()
            };
            let (encoder, expander) = (list("vicreg.encoder")?, list("vicreg.expander")?);
            let input: serde_json::Value =
                serde_json::from_str(get("vicreg.input_shape")?).map_err(|e| e.to_string())?;
            let number = |k: &str| -> Result<u32, String> { get(k)?.parse().map_err(|e| format!("{k}: {e}")) };
            let kind = u8::try_from(number("vicreg.optimizer_kind")?).map_err(|e| e.to_string())?;
            let meta = Meta {
                optimizer_kind: kind,
                steps: number("vicreg.steps")?,
                optimizer_steps: number("vicreg.optimizer_steps")?,
            };
            let copies = (0..).take_while(|k| st.names().iter().any(|n| n.starts_with(&format!("state{k}.")))).count();
            let n = Network {
                input: shape_from_json(&input)?,
                encoder: encoder.len(),
                layers: [encoder, expander].concat(),
            };
            (n, meta, copies)
        }
        (None, Some(template)) => {
            let (network, meta, _) = network_of(template)?;
            (network, Meta { optimizer_kind: 0, steps: meta.steps, optimizer_steps: 0 }, 0)
        }
        (None, None) => {
            return Err(
                "the file does not say which network it holds: give a checkpoint of that network (--like)".into()
            );
        }
    };
    let net = network.net();
    net.check().map_err(|e| format!("the layers are not a network: {e}"))?;
    let mut values = Vec::new();
    let (mut converted, mut read) = (Vec::new(), std::collections::BTreeSet::new());
    for (name, shape) in payload_arrays(&net, copies) {
        let t = st.tensor(&name).map_err(|_| format!("no tensor {name} (shape {shape:?})"))?;
        if t.shape() != shape.as_slice() {
            return Err(format!("{name}: shape {:?}, expected {shape:?}", t.shape()));
        }
        let data: Vec<f32> = match t.dtype() {
            Dtype::F32 => t.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect(),
            #[allow(clippy::cast_possible_truncation)] // PyTorch's float64, narrowed as the core computes in f32
            Dtype::F64 => {
                converted.push(name.clone());
                t.data().chunks_exact(8).map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32).collect()
            }
            other => return Err(format!("{name}: dtype {other:?}, expected F32 (or F64)")),
        };
        if let Some(bad) = data.iter().find(|v| !v.is_finite()) {
            return Err(format!("{name}: holds {bad}; a checkpoint holds finite values only"));
        }
        values.extend(data);
        read.insert(name);
    }
    let mut out = vec![0u8; checkpoint::len(&net, copies)];
    let len = checkpoint::assemble(&net, &meta, &values, &mut out).map_err(|e| e.to_string())?;
    checkpoint::inspect(&out[..len]).map_err(|e| format!("the assembled checkpoint is not valid: {e}"))?;
    out.truncate(len);
    // BatchNorm's step counters are PyTorch's bookkeeping, which every
    // PyTorch file and every export of ours carries: expected, not news.
    let expected = |n: &str| read.contains(n) || n.ends_with(".num_batches_tracked");
    let mut ignored: Vec<String> = st.names().into_iter().filter(|n| !expected(n)).map(str::to_owned).collect();
    ignored.sort();
    Ok(Imported { bytes: out, converted, ignored })
}

/// A checkpoint read from a `.safetensors` file, and what the reading did
/// beside copying f32 values: what a user must be told.
#[derive(Debug, PartialEq)]
pub struct Imported {
    /// The checkpoint.
    pub bytes: Vec<u8>,
    /// Tensors stored as float64, narrowed to f32.
    pub converted: Vec<String>,
    /// Tensors of the file that no parameter, running statistic or
    /// optimiser state reads (but for BatchNorm's `num_batches_tracked`,
    /// which PyTorch always writes and a checkpoint does not keep).
    pub ignored: Vec<String>,
}

impl Imported {
    /// One line per conversion and per tensor left out, for the user.
    #[must_use]
    pub fn remarks(&self) -> Vec<String> {
        let converted = self.converted.iter().map(|n| format!("{n}: float64, narrowed to float32"));
        converted.chain(self.ignored.iter().map(|n| format!("{n}: not part of the checkpoint, ignored"))).collect()
    }
}
