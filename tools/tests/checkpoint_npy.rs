//! Checkpoints to `.npy` files and back: the files are what NumPy writes,
//! and the round trip gives back the same bytes.

use std::process::Command;
use vicreg::nn::{Layer, Net, Shape};
use vicreg::{AdamW, Pcg32, Trainer, TrainerConfig};
use vicreg_tools::npy;

/// A conv encoder, BatchNorm over a map, and an expander whose last Linear
/// has no bias: every kind of tensor the export names.
const SMALL: Net = Net::new(
    Shape::Map { channels: 2, length: 6 },
    &[Layer::conv1d(3, 3).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(4)],
    &[Layer::linear(6), Layer::BatchNorm, Layer::ReLU, Layer::linear(5).without_bias()],
);
vicreg::network!(Small = SMALL, batch 8);

/// The header NumPy 2 writes for `np.save(f, np.zeros((2, 3), '<f4'))`.
const NUMPY_2X3: &str = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

#[test]
fn npy_encoding_is_byte_for_byte_what_numpy_writes() {
    let bytes = npy::encode(&[2, 3], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(&bytes[..10], b"\x93NUMPY\x01\x00\x76\x00"); // header of 118 bytes
    let header = std::str::from_utf8(&bytes[10..128]).unwrap();
    assert_eq!(header.trim_end(), NUMPY_2X3);
    assert!(header.ends_with('\n') && bytes.len() == 128 + 24);
    let one_d = npy::encode(&[2], &[1.5, -2.0]);
    assert!(
        std::str::from_utf8(&one_d[10..128])
            .unwrap()
            .starts_with("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }")
    );
    assert_eq!(npy::decode(&bytes).unwrap(), (vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    assert_eq!(npy::decode(&one_d).unwrap(), (vec![2], vec![1.5, -2.0]));
    let f8 = String::from_utf8_lossy(&bytes).replace("<f4", "<f8").into_bytes();
    assert!(npy::decode(&f8).is_err());
    assert!(npy::decode(&bytes[..140]).is_err());
}

#[test]
fn export_then_import_gives_back_the_same_checkpoint() {
    type Model = Trainer<Small, AdamW>;
    let mut t: Box<Model> = Box::new(Trainer::new(TrainerConfig::new(1e-2), AdamW::new(0.0)));
    t.init(&mut Pcg32::new(4));
    let a: Vec<[f32; 12]> = (0..8).map(|i| core::array::from_fn(|j| ((i * 12 + j) as f32).sin())).collect();
    let b: Vec<[f32; 12]> = a.iter().map(|r| r.map(|v| v * 0.9)).collect();
    for _ in 0..3 {
        t.step(&a, &b).unwrap();
    }
    let mut bytes = vec![0u8; Model::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();

    let dir = std::env::temp_dir().join(format!("checkpoint-npy-{}", std::process::id()));
    let (original, restored) = (dir.join("a.ckpt"), dir.join("b.ckpt"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(&original, &bytes).unwrap();
    let tool = env!("CARGO_BIN_EXE_checkpoint-npy");
    let arrays = dir.join("arrays");
    assert!(Command::new(tool).arg("export").arg(&original).arg(&arrays).status().unwrap().success());
    let (shape, w) = npy::decode(&std::fs::read(arrays.join("0.weight.npy")).unwrap()).unwrap();
    assert_eq!(shape, vec![3, 2, 3], "PyTorch's Conv1d layout, out × in × kernel");
    assert_eq!(w, t.parameters()[..18]);
    let (shape, var) = npy::decode(&std::fs::read(arrays.join("6.running_var.npy")).unwrap()).unwrap();
    assert_eq!(shape, vec![6]);
    assert_eq!(var, t.running_statistics()[3 * 2 + 6..]);
    // No bias file for a layer without a bias; AdamW keeps two moments.
    assert!(!arrays.join("8.bias.npy").exists() && arrays.join("8.weight.npy").exists());
    assert!(arrays.join("state1.8.weight.npy").exists() && !arrays.join("state2.8.weight.npy").exists());
    let meta = std::fs::read_to_string(arrays.join("meta.json")).unwrap();
    assert!(meta.contains("\"adamw\"") && meta.contains("\"conv1d\""), "{meta}");
    assert!(Command::new(tool).arg("import").arg(&arrays).arg(&restored).status().unwrap().success());
    assert_eq!(std::fs::read(&restored).unwrap(), bytes);

    // A tensor of the wrong shape is refused.
    std::fs::write(arrays.join("4.weight.npy"), npy::encode(&[2, 2], &[0.0; 4])).unwrap();
    assert!(!Command::new(tool).arg("import").arg(&arrays).arg(&restored).status().unwrap().success());
    // A NaN is refused with the tensor named.
    std::fs::write(arrays.join("4.weight.npy"), npy::encode(&[4, 3], &[f32::NAN; 12])).unwrap();
    let out = Command::new(tool).arg("import").arg(&arrays).arg(&restored).output().unwrap();
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("4.weight.npy"));
    std::fs::remove_dir_all(&dir).ok();
}

/// A header from an untrusted file: a shape whose product, or whose byte
/// count, wraps around `usize` must not match a short payload, and a header
/// length past the end is truncation, not an overflow.
#[test]
fn shapes_and_lengths_that_overflow_are_refused() {
    for shape in ["(4611686018427387904, 4)", "(4294967296, 4294967296, 2)", "(4611686018427387905,)"] {
        let header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend(u16::try_from(header.len()).unwrap().to_le_bytes());
        bytes.extend(header.as_bytes());
        bytes.extend([0u8; 4]);
        assert!(npy::decode(&bytes).is_err(), "{shape}");
    }
    let mut huge_header = b"\x93NUMPY\x02\x00".to_vec();
    huge_header.extend(u32::MAX.to_le_bytes());
    assert!(npy::decode(&huge_header).is_err());
}
