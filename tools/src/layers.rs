//! Layer lists as JSON, for the metadata that travels with exported
//! checkpoints: `{"type": "linear", "out": 24, "bias": true}`, the type names
//! of the reference format.

use serde_json::{Value, json};
use vicreg::nn::{Layer, Shape};

/// One layer as JSON: its `type`, its settings under the reference
/// format's names, and `bias` for a kind whose bias is optional.
pub fn to_json(layer: Layer) -> Value {
    let (fields, values, bias) = layer.settings();
    let mut object = serde_json::Map::new();
    object.insert("type".into(), json!(layer.name()));
    for (field, number) in fields.iter().zip(values) {
        let counts = field.counts(number);
        object.insert(field.name.into(), if field.pair { json!(&*counts) } else { json!(counts[0]) });
    }
    if let Some(bias) = bias {
        object.insert("bias".into(), json!(bias));
    }
    Value::Object(object)
}

/// One layer from JSON, in either dialect: ours (`"bias": false`) or the
/// reference format's (`"b": null` for no bias). Without either, a layer
/// has its bias.
pub fn from_json(v: &Value) -> Result<Layer, String> {
    let kind = v.get("type").and_then(Value::as_str).ok_or("a layer needs a string `type`")?;
    let bias = match (v.get("bias"), v.get("b")) {
        (Some(bias), _) => bias.as_bool().ok_or("`bias` is not true or false")?,
        (None, Some(b)) => !b.is_null(),
        (None, None) => true,
    };
    // A pair is a list (`[3, 3]`); a single count a number.
    let count = |key: &str, i: usize| {
        let value = match v.get(key)? {
            Value::Array(pair) => pair.get(i)?,
            single if i == 0 => single,
            _ => return None,
        };
        value.as_u64().and_then(|x| u32::try_from(x).ok())
    };
    Layer::from_fields(kind, bias, count).map_err(|e| format!("layer {kind:?}: {e}"))
}

/// An input shape as JSON: `[D]`, `[C, T]` or `[C, H, W]`, as the reference
/// format writes it.
pub fn shape_to_json(shape: Shape) -> Value {
    match shape {
        Shape::Flat(d) => json!([d]),
        Shape::Map { channels, length } => json!([channels, length]),
        Shape::Image { channels, height, width } => json!([channels, height, width]),
    }
}

/// An input shape from JSON.
pub fn shape_from_json(v: &Value) -> Result<Shape, String> {
    let dims: Vec<usize> = v
        .as_array()
        .ok_or("the input shape is not a list")?
        .iter()
        .map(|x| x.as_u64().and_then(|x| usize::try_from(x).ok()).ok_or("the input shape holds a non-count"))
        .collect::<Result<_, _>>()?;
    match dims.as_slice() {
        [d] => Ok(Shape::Flat(*d)),
        [c, t] => Ok(Shape::Map { channels: *c, length: *t }),
        [c, h, w] => Ok(Shape::Image { channels: *c, height: *h, width: *w }),
        _ => Err(format!("input shape {dims:?}: expected [D], [C, T] or [C, H, W]")),
    }
}

/// A named array and its shape.
pub type Named = (String, Vec<usize>);

/// The `Sequential` names of every array in a checkpoint's payload, in
/// order, with their shapes: each parameter tensor (`i.weight`, `i.bias`),
/// each BatchNorm layer's `i.running_mean` and `i.running_var`, then the
/// parameters again for each of `copies` optimiser state copies
/// (`state0.i.weight`, …).
pub fn payload_arrays(net: &vicreg::nn::Net<'_>, copies: usize) -> Vec<Named> {
    let params: Vec<Named> =
        net.tensors().map(|t| (format!("{}.{}", t.layer, t.name()), t.dims[..t.rank].to_vec())).collect();
    let mut all = params.clone();
    for i in 0..net.depth() {
        if net.layer(i) == Some(Layer::BatchNorm) {
            let c = net.shape_before(i).map_or(0, Shape::channels);
            all.push((format!("{i}.running_mean"), vec![c]));
            all.push((format!("{i}.running_var"), vec![c]));
        }
    }
    for copy in 0..copies {
        all.extend(params.iter().map(|(name, shape)| (format!("state{copy}.{name}"), shape.clone())));
    }
    all
}

/// The optimiser a checkpoint's kind tag names (`none` for a checkpoint
/// without optimiser state).
#[must_use]
pub fn optimizer_name(kind: u8) -> &'static str {
    use vicreg::{AdamW, Lars, Optimizer, Sgd};
    [(Sgd::KIND, "sgd"), (AdamW::KIND, "adamw"), (Lars::KIND, "lars")]
        .into_iter()
        .find(|(k, _)| *k == kind)
        .map_or("none", |(_, name)| name)
}

/// What a training job wrote about a checkpoint beside it (`CHECKPOINT.json`:
/// the input scaling the data needs, the optimiser and its settings, the
/// data), as text entries; empty when there is no such file.
///
/// # Errors
///
/// A file that exists but is not a JSON object.
pub fn notes_beside(checkpoint: &std::path::Path) -> Result<Vec<(String, String)>, String> {
    let mut path = checkpoint.as_os_str().to_owned();
    path.push(".json");
    let path = std::path::PathBuf::from(path);
    let Ok(text) = std::fs::read_to_string(&path) else { return Ok(Vec::new()) };
    let value: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let object = value.as_object().ok_or(format!("{}: not a JSON object", path.display()))?;
    Ok(object.iter().map(|(k, v)| (k.clone(), v.as_str().map_or_else(|| v.to_string(), str::to_owned))).collect())
}
