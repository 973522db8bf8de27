//! Checkpoints to `.safetensors` and back byte for byte, and a file written
//! the way PyTorch writes it (built here independently with the
//! `safetensors` crate's own writer, from known arrays under
//! `torch.nn.Sequential` names, with BatchNorm's `num_batches_tracked` and no
//! metadata) imported against a template network.

use safetensors::tensor::{Dtype, TensorView};
use vicreg::nn::{Layer, Net, Shape};
use vicreg::train::checkpoint;
use vicreg::{AdamW, Pcg32, Trainer, TrainerConfig};

const SMALL: Net = Net::new(
    Shape::Map { channels: 2, length: 6 },
    &[Layer::conv1d(3, 3).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(4)],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(5).without_bias()],
);
vicreg::network!(Small = SMALL, batch 8);
type Model = Trainer<Small, AdamW>;

fn trained() -> Box<Model> {
    let mut t: Box<Model> = Box::new(Trainer::new(TrainerConfig::new(1e-2), AdamW::new(0.01)));
    t.init(&mut Pcg32::new(4));
    let a: Vec<[f32; 12]> = (0..8).map(|i| core::array::from_fn(|j| ((i * 12 + j) as f32).sin())).collect();
    let b: Vec<[f32; 12]> = a.iter().map(|r| r.map(|v| v * 0.9)).collect();
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    t
}

#[test]
fn export_then_import_gives_back_the_same_checkpoint() {
    let t = trained();
    for with_optimizer in [true, false] {
        let mut bytes = vec![0u8; Model::checkpoint_bytes(with_optimizer)];
        t.save(&mut bytes, with_optimizer).unwrap();
        let notes = [("input".to_owned(), "pixel / 16".to_owned())];
        let file = host_tests::torch::export(&bytes, &notes).unwrap();
        let st = safetensors::SafeTensors::deserialize(&file).unwrap();
        // The metadata names the optimiser and carries the job's notes.
        let (_, header) = safetensors::SafeTensors::read_metadata(&file).unwrap();
        let metadata = header.metadata().clone().unwrap_or_default();
        let optimizer = if with_optimizer { "adamw" } else { "none" };
        assert_eq!(metadata.get("vicreg.optimizer").map(String::as_str), Some(optimizer));
        assert_eq!(metadata.get("training.input").map(String::as_str), Some("pixel / 16"));
        let w = st.tensor("0.weight").unwrap();
        assert_eq!((w.dtype(), w.shape()), (Dtype::F32, &[3usize, 2, 3][..]), "PyTorch's Conv1d layout");
        assert!(st.tensor("8.bias").is_err(), "the last Linear has no bias");
        assert_eq!(st.tensor("6.num_batches_tracked").unwrap().data(), 6i64.to_le_bytes());
        assert_eq!(
            host_tests::torch::import(&file, None).unwrap().bytes,
            bytes,
            "with optimiser state: {with_optimizer}"
        );
    }
}

/// Arrays under the names `torch.nn.Sequential(...).state_dict()` gives this
/// network, as `safetensors.torch.save_file` writes them.
fn torch_style_file(values: &mut dyn FnMut(usize) -> Vec<f32>) -> (Vec<u8>, Vec<f32>) {
    let tensors: [(&str, Vec<usize>); 14] = [
        ("0.weight", vec![3, 2, 3]),
        ("0.bias", vec![3]),
        ("1.weight", vec![3]),
        ("1.bias", vec![3]),
        ("4.weight", vec![4, 3]),
        ("4.bias", vec![4]),
        ("5.weight", vec![6, 4]),
        ("5.bias", vec![6]),
        ("6.weight", vec![6]),
        ("6.bias", vec![6]),
        ("8.weight", vec![5, 6]),
        ("1.running_mean", vec![3]),
        ("1.running_var", vec![3]),
        ("6.running_mean", vec![6]),
    ];
    let mut owned: Vec<(String, Vec<usize>, Vec<f32>)> =
        tensors.iter().map(|(n, s)| ((*n).to_owned(), s.clone(), values(s.iter().product()))).collect();
    owned.push(("6.running_var".into(), vec![6], values(6).iter().map(|v| v.abs() + 0.5).collect()));
    // The payload order: parameters layer by layer, then running statistics.
    let expected: Vec<f32> = owned.iter().flat_map(|(_, _, v)| v.clone()).collect();
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = owned
        .iter()
        .map(|(n, s, v)| (n.clone(), s.clone(), v.iter().flat_map(|x| x.to_le_bytes()).collect()))
        .collect();
    let seen = 42i64.to_le_bytes();
    let mut views: Vec<(String, TensorView<'_>)> =
        bytes.iter().map(|(n, s, b)| (n.clone(), TensorView::new(Dtype::F32, s.clone(), b).unwrap())).collect();
    views.push(("1.num_batches_tracked".into(), TensorView::new(Dtype::I64, vec![], &seen).unwrap()));
    views.push(("6.num_batches_tracked".into(), TensorView::new(Dtype::I64, vec![], &seen).unwrap()));
    (safetensors::tensor::serialize(views, None).unwrap(), expected)
}

#[test]
fn a_file_written_as_pytorch_writes_it_imports_against_a_template() {
    let mut k = 0u32;
    let (file, expected) = torch_style_file(&mut |n| {
        (0..n)
            .map(|_| {
                k += 1;
                (k as f32 * 0.37).sin()
            })
            .collect()
    });
    // Without a template the network is unknown.
    assert!(host_tests::torch::import(&file, None).unwrap_err().contains("--like"));
    let mut template = vec![0u8; Model::checkpoint_bytes(false)];
    trained().save(&mut template, false).unwrap();
    let imported = host_tests::torch::import(&file, Some(&template)).unwrap();
    // PyTorch's BatchNorm counters are expected and left out silently;
    // nothing was narrowed.
    assert!(imported.ignored.is_empty() && imported.converted.is_empty());
    let ckpt = imported.bytes;
    let got: Vec<f32> = checkpoint::payload(&ckpt).collect();
    assert_eq!(got, expected);
    let mut t: Box<Model> = Box::new(Trainer::new(TrainerConfig::new(1e-2), AdamW::new(0.0)));
    t.load(&ckpt).expect("the imported checkpoint loads");
    assert_eq!(t.parameters(), &expected[..t.parameters().len()]);

    // A tensor of another shape, or holding a NaN, is refused by name.
    let (bad, _) = torch_style_file(&mut |n| vec![f32::NAN; n]);
    assert!(host_tests::torch::import(&bad, Some(&template)).unwrap_err().starts_with("0.weight"));
}

/// What the importer does beyond copying f32 values is said: a float64
/// tensor narrowed, a tensor left out. A layer list longer than
/// `Net::MAX_DEPTH` in the metadata is refused before it is read.
#[test]
fn conversions_and_left_out_tensors_are_named_and_deep_lists_refused() {
    let mut bytes = vec![0u8; Model::checkpoint_bytes(false)];
    trained().save(&mut bytes, false).unwrap();
    let file = host_tests::torch::export(&bytes, &[]).unwrap();
    let st = safetensors::SafeTensors::deserialize(&file).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&file).unwrap();
    let metadata = header.metadata().clone().unwrap_or_default();
    let names: Vec<String> = st.names().into_iter().map(str::to_owned).collect();
    // Every tensor as it was, but 0.weight in float64, and one extra.
    let wide: Vec<u8> = st
        .tensor("0.weight")
        .unwrap()
        .data()
        .chunks_exact(4)
        .flat_map(|c| f64::from(f32::from_le_bytes([c[0], c[1], c[2], c[3]])).to_le_bytes())
        .collect();
    let extra = 1.0f32.to_le_bytes();
    let mut views: Vec<(String, TensorView<'_>)> = Vec::new();
    for name in &names {
        let t = st.tensor(name).unwrap();
        let view = if name == "0.weight" {
            TensorView::new(Dtype::F64, t.shape().to_vec(), &wide).unwrap()
        } else {
            TensorView::new(t.dtype(), t.shape().to_vec(), t.data()).unwrap()
        };
        views.push((name.clone(), view));
    }
    views.push(("projector.scale".into(), TensorView::new(Dtype::F32, vec![1], &extra).unwrap()));
    let changed = safetensors::tensor::serialize(views.clone(), Some(metadata.clone())).unwrap();
    let imported = host_tests::torch::import(&changed, None).unwrap();
    assert_eq!(imported.bytes, bytes, "f32 values survive the round trip through f64");
    assert_eq!(imported.converted, ["0.weight"]);
    assert_eq!(imported.ignored, ["projector.scale"]);
    assert!(imported.remarks().iter().any(|r| r.contains("narrowed")) && imported.remarks().len() == 2);

    let mut deep = metadata;
    let relus = format!("[{}]", vec!["{\"type\": \"relu\"}"; vicreg::nn::Net::MAX_DEPTH + 1].join(","));
    deep.insert("vicreg.expander".into(), relus);
    let file = safetensors::tensor::serialize(views, Some(deep)).unwrap();
    let refused = host_tests::torch::import(&file, None).unwrap_err();
    assert!(refused.contains("more than 1024"), "{refused}");
}

/// An image encoder: Conv2d (a 4-D weight), BatchNorm over C×H×W maps, both
/// poolings, the mean over space.
const IMAGES: Net = Net::new(
    Shape::Image { channels: 1, height: 8, width: 8 },
    &[
        Layer::conv2d(4, [3, 3]).padding(1),
        Layer::BatchNorm,
        Layer::ReLU,
        Layer::max_pool2d([2, 2]),
        Layer::conv2d(6, [3, 2]).strides([1, 2]).without_bias(),
        Layer::avg_pool2d([2, 1]).strides([1, 1]),
        Layer::MeanSpace,
        Layer::linear(4),
    ],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(5).without_bias()],
);
vicreg::network!(Images = IMAGES, batch 8);

#[test]
fn an_image_encoder_goes_to_pytorchs_layout_and_back() {
    let mut t: Box<Trainer<Images, AdamW>> = Box::new(Trainer::new(TrainerConfig::new(1e-2), AdamW::new(0.01)));
    t.init(&mut Pcg32::new(5));
    let a: Vec<[f32; 64]> = (0..8).map(|i| core::array::from_fn(|j| ((i * 64 + j) as f32 * 0.37).sin())).collect();
    let b: Vec<[f32; 64]> = a.iter().map(|r| r.map(|v| v * 0.8 + 0.1)).collect();
    t.step(&a, &b).unwrap();
    let mut bytes = vec![0u8; Trainer::<Images, AdamW>::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();
    let file = host_tests::torch::export(&bytes, &[]).unwrap();
    let st = safetensors::SafeTensors::deserialize(&file).unwrap();
    let shape = |name: &str| st.tensor(name).map(|t| t.shape().to_vec()).ok();
    assert_eq!(shape("0.weight"), Some(vec![4, 1, 3, 3]), "PyTorch's Conv2d layout");
    assert_eq!(shape("4.weight"), Some(vec![6, 4, 3, 2]));
    assert_eq!(shape("4.bias"), None, "declared without bias");
    assert_eq!(shape("1.running_mean"), Some(vec![4]));
    assert_eq!(host_tests::torch::import(&file, None).unwrap().bytes, bytes);
}
