//! The classes of break an outside harness found behind "never panics, a
//! failed step changes nothing", one test each; every test failed on the
//! code before its fix.

use vicreg::augment::{Augment, Jitter, TimeShift};
use vicreg::nn::{AllKinds, Layer, Net, NormConfig, Place, Shape, Siamese};
use vicreg::train::checkpoint::{self, CheckpointError};
use vicreg::{AdamW, CovarianceSide, Error, Lanes, Options, Pcg32, Sgd, Trainer, TrainerConfig, Views};

/// The harness's network: 6 inputs → 8 → 4, 4 → 8 (BatchNorm) → 6, batches of 8.
const HARNESS: Net = Net::new(
    Shape::Flat(6),
    &[Layer::linear(8), Layer::ReLU, Layer::linear(4)],
    &[Layer::linear(8), Layer::BatchNorm, Layer::ReLU, Layer::linear(6).without_bias()],
);
vicreg::network!(Harness = HARNESS, batch 8);

fn batch(seed: u64) -> Vec<[f32; 6]> {
    let mut rng = Pcg32::new(seed);
    (0..8).map(|_| core::array::from_fn(|_| vicreg::gaussian(&mut rng))).collect()
}

fn trainer<O: vicreg::Optimizer>(optimizer: O) -> Box<Trainer<Harness, O>> {
    let mut t = Box::new(Trainer::new(TrainerConfig::new(0.01), optimizer));
    t.init(&mut Pcg32::new(3));
    t
}

/// Class 1. Before: a value of 1e38 (or 1e15) in a batch overflowed
/// BatchNorm's sum of squares, the step returned `Ok`, and the running
/// variance became NaN, so the trainer's own checkpoint no longer loaded.
#[test]
fn every_ok_step_leaves_a_state_whose_checkpoint_loads() {
    for huge in [1e15f32, 1e20, 1e30, 1e38, f32::MAX] {
        let mut t = trainer(Sgd::new(0.9, 0.0));
        let (mut a, b) = (batch(1), batch(2));
        a[3][2] = huge;
        let result = t.step(&a, &b);
        let mut bytes = vec![0u8; Trainer::<Harness, Sgd>::checkpoint_bytes(true)];
        t.save(&mut bytes, true).unwrap();
        let mut fresh = trainer(Sgd::new(0.9, 0.0));
        assert_eq!(fresh.load(&bytes), Ok(()), "input {huge:e}: step gave {result:?}, its checkpoint is refused");
        assert!(t.running_statistics().iter().all(|v| v.is_finite()));
        let mut z = [[0.0f32; 6]; 8];
        assert!(t.embed(&b, &mut z).is_ok(), "input {huge:e}: inference fails after the step");
    }
    // BatchNorm's settings are validated like the loss's.
    for norm in [
        NormConfig { momentum: f32::NAN, ..NormConfig::TORCH },
        NormConfig { momentum: 1e30, ..NormConfig::TORCH },
        NormConfig { eps: 0.0, ..NormConfig::TORCH },
    ] {
        let mut t = trainer(Sgd::new(0.9, 0.0));
        t.set_config(TrainerConfig { norm, ..*t.config() });
        let before = t.running_statistics().to_vec();
        assert_eq!(t.step(&batch(1), &batch(2)).unwrap_err(), Error::InvalidConfig, "{norm:?}");
        assert_eq!(t.running_statistics(), before);
    }
}

/// Class 2. Before: the batch side clamped its covariance with `max(0)`,
/// turning a NaN or −∞ from overflowed squares into 0 and returning `Ok`.
#[test]
fn overflow_on_the_batch_side_is_refused_like_on_the_feature_side() {
    let rows: Vec<f32> = (0..12).map(|k| (((k * 7) % 11) as f32 - 5.0) * 1e10).collect();
    let views = Views::new(&rows, &rows, 4).unwrap();
    for side in [CovarianceSide::BatchSide, CovarianceSide::FeatureSide, CovarianceSide::Auto] {
        let mut scratch = vec![0.0; vicreg::scratch_len(3, 4, CovarianceSide::FeatureSide)];
        let (mut ga, mut gb) = (vec![0.0; 12], vec![0.0; 12]);
        let options = Options { side, lanes: Lanes::Wide };
        let result =
            vicreg::loss_and_gradients(views, &vicreg::Config::default(), options, &mut scratch, &mut ga, &mut gb);
        assert_eq!(result, Err(Error::NonFiniteResult), "{side:?}");
    }
}

/// Class 3. Before: zero widths panicked (`chunks(0)`, a division by zero),
/// and a checkpoint whose length field reached 2³² − 48 overflowed a size on
/// 32-bit targets before the checksum was checked. Declarations are now
/// checked (at compile time through `network!`, and by `Siamese::new`), and
/// every size read from bytes is computed with checked arithmetic.
#[test]
fn degenerate_declarations_and_hostile_sizes_are_refused_without_a_panic() {
    let zero_width = [Layer::linear(0)];
    let net = Net::new(Shape::Flat(3), &zero_width, &[]);
    assert!(net.check().is_err());
    let mut places = vec![Place::EMPTY; 1];
    assert!(matches!(Siamese::<AllKinds>::new(&net, 4, &mut places), Err(Error::InvalidNetwork { layer: 0 })));
    let ok = [Layer::linear(2)];
    let empty_input = Net::new(Shape::Flat(0), &ok, &[]);
    assert!(matches!(Siamese::<AllKinds>::new(&empty_input, 4, &mut places), Err(Error::InvalidNetwork { .. })));
    let fine = Net::new(Shape::Flat(3), &ok, &[]);
    assert_eq!(Siamese::<AllKinds>::new(&fine, 0, &mut places).err(), Some(Error::TooFewRows { n: 0 }));
    // A capacity of one row streams and infers; a full batch of one row is
    // refused when it runs.
    assert!(Siamese::<AllKinds>::new(&fine, 1, &mut places).is_ok());
    const ONE_ROW: Net = Net::new(Shape::Flat(3), &[Layer::linear(2)], &[]);
    vicreg::network!(OneRow = ONE_ROW, batch 1);
    let mut one = Box::new(Trainer::<OneRow, Sgd>::new(vicreg::TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    one.init(&mut vicreg::Pcg32::new(1));
    assert_eq!(one.step(&[[1.0, 2.0, 3.0]], &[[1.0, 2.0, 3.5]]).err(), Some(Error::TooFewRows { n: 1 }));
    let mut repr = [[0.0; 2]; 3];
    assert!(one.represent(&[[1.0, 2.0, 3.0]; 3], &mut repr).is_ok() && repr[0] == repr[2] && repr[0] != [0.0; 2]);
    let long_kernel = [Layer::conv1d(2, 9)];
    assert!(Net::new(Shape::Map { channels: 1, length: 4 }, &long_kernel, &[]).check().is_err());

    // Length fields at the edge of u32, with and without a valid checksum.
    let t = trainer(Sgd::new(0.9, 0.0));
    let mut bytes = vec![0u8; Trainer::<Harness, Sgd>::checkpoint_bytes(false)];
    t.save(&mut bytes, false).unwrap();
    for payload in [u32::MAX, u32::MAX - 47, u32::MAX - 40 - 7 * 20] {
        let mut b = bytes.clone();
        b[32..36].copy_from_slice(&payload.to_le_bytes());
        assert_eq!(checkpoint::inspect(&b).err(), Some(CheckpointError::Corrupt));
        let end = b.len() - 4;
        let crc = checkpoint::crc32(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(checkpoint::inspect(&b).err(), Some(CheckpointError::Corrupt));
        assert_eq!(trainer(Sgd::new(0.9, 0.0)).load(&b), Err(CheckpointError::Corrupt));
    }
    // A layer record with a width of u32::MAX, resealed: refused, not a panic.
    let mut b = bytes.clone();
    let record = checkpoint::HEADER_BYTES + 3 * checkpoint::RECORD_BYTES;
    b[record + 4..record + 8].copy_from_slice(&u32::MAX.to_le_bytes());
    let end = b.len() - 4;
    let crc = checkpoint::crc32(&b[..end]);
    b[end..].copy_from_slice(&crc.to_le_bytes());
    assert_eq!(checkpoint::inspect(&b).err(), Some(CheckpointError::Corrupt));
    assert_eq!(trainer(Sgd::new(0.9, 0.0)).load(&b), Err(CheckpointError::Layer { index: 3 }));
}

/// Class 4. Before: a tuple applied its first part, then found the second
/// one's shape wrong, and returned an error with the sample already changed.
#[test]
fn a_failed_augmentation_leaves_the_sample_unchanged() {
    let mut s = [0.5f32, -1.0, 2.0, 0.25];
    let before = s;
    let mut rng = Pcg32::new(9);
    let tuple = (Jitter { sigma: 1.0 }, TimeShift { channels: 0, max_shift: 1 });
    assert_eq!(tuple.apply(&mut s, &mut rng), Err(Error::ShapeMismatch));
    assert_eq!(s, before);
    let wrong_channels = (Jitter { sigma: 1.0 }, TimeShift { channels: 3, max_shift: 1 });
    assert_eq!(wrong_channels.apply(&mut s, &mut rng), Err(Error::ShapeMismatch));
    assert_eq!(s, before);
}

/// Class 5. Before: the error reported the `Auto` requirement (49) for a
/// feature side that needs 126.
#[test]
fn scratch_too_small_reports_what_the_side_asked_for_needs() {
    let a = [0.0f32; 18];
    let b = [1.0f32; 18];
    let views = Views::new(&a, &b, 9).unwrap();
    let (mut ga, mut gb) = ([0.0; 18], [0.0; 18]);
    for side in [CovarianceSide::FeatureSide, CovarianceSide::BatchSide, CovarianceSide::Auto] {
        for available in [0, 40] {
            let mut scratch = vec![0.0; available];
            let options = Options { side, lanes: Lanes::Scalar };
            let e =
                vicreg::loss_and_gradients(views, &vicreg::Config::default(), options, &mut scratch, &mut ga, &mut gb);
            assert_eq!(
                e,
                Err(Error::ScratchTooSmall { needed: vicreg::scratch_len(2, 9, side), available }),
                "{side:?}"
            );
        }
    }
    assert_eq!(vicreg::scratch_len(2, 9, CovarianceSide::FeatureSide), 126);
}

/// Class 6. Before: a checkpoint with negative AdamW second moments loaded
/// and then stalled every step; `inspect` accepted fields `load` refused;
/// a loaded weight of 3e38 made inference return `Ok` with infinities.
#[test]
fn checkpoints_hold_every_invariant_and_inference_refuses_overflow() {
    let mut t = trainer(AdamW::new(0.0));
    t.step(&batch(1), &batch(2)).unwrap();
    let mut bytes = vec![0u8; Trainer::<Harness, AdamW>::checkpoint_bytes(true)];
    t.save(&mut bytes, true).unwrap();

    // inspect and assemble are inverses, field for field.
    let info = checkpoint::inspect(&bytes).unwrap();
    let layers: Vec<Layer> = info.layers().collect();
    let net = Net::new(info.input, &layers[..info.encoder_layers], &layers[info.encoder_layers..]);
    let values: Vec<f32> = checkpoint::payload(&bytes).collect();
    let mut again = vec![0u8; bytes.len()];
    assert_eq!(checkpoint::assemble(&net, &info.meta, &values, &mut again), Ok(bytes.len()));
    assert_eq!(again, bytes);

    let reseal = |mut b: Vec<u8>| {
        let end = b.len() - 4;
        let crc = checkpoint::crc32(&b[..end]);
        b[end..].copy_from_slice(&crc.to_le_bytes());
        b
    };
    // A negative second moment (the last value of the payload).
    let mut forged = bytes.clone();
    let last = forged.len() - 8;
    forged[last..last + 4].copy_from_slice(&(-1.0f32).to_le_bytes());
    assert_eq!(trainer(AdamW::new(0.0)).load(&reseal(forged)), Err(CheckpointError::Corrupt));
    // Flag bits and an optimiser kind this format never writes.
    for (offset, value) in [(6usize, 0x03u8), (7, 0x80), (8, 0), (9, 1), (14, 1)] {
        let mut forged = bytes.clone();
        forged[offset] = value;
        let forged = reseal(forged);
        assert_eq!(checkpoint::inspect(&forged).err(), Some(CheckpointError::Corrupt), "byte {offset} = {value}");
        assert_eq!(trainer(AdamW::new(0.0)).load(&forged), Err(CheckpointError::Corrupt), "byte {offset} = {value}");
    }

    // A weight of 3e38: loads (it is finite), but inference overflows and says so.
    let mut big = trainer(Sgd::new(0.9, 0.0));
    big.parameters_mut().iter_mut().for_each(|w| *w = 3e38);
    let mut y = [[0.0f32; 4]; 8];
    assert_eq!(big.represent(&batch(4), &mut y), Err(Error::NonFiniteResult));
    let mut z = [[0.0f32; 6]; 8];
    assert_eq!(big.embed(&batch(4), &mut z), Err(Error::NonFiniteResult));
}

/// Class 8. Before: ν = 1e38 with one feature, and the batch side with one
/// feature at 1e15, were refused (an overflowing intermediate times zero)
/// though the true loss is finite.
#[test]
fn one_feature_with_huge_coefficients_or_values_is_not_refused() {
    let z_a = [0.1f32, -0.4, 0.7, 0.2];
    let z_b = [0.0f32, -0.5, 0.9, 0.1];
    let views = Views::new(&z_a, &z_b, 1).unwrap();
    let config = vicreg::Config { cov_coeff: 1e38, ..vicreg::Config::default() };
    let mut scratch = vec![0.0; vicreg::scratch_len(4, 1, CovarianceSide::FeatureSide)];
    let (mut ga, mut gb) = ([0.0; 4], [0.0; 4]);
    let t = vicreg::loss_and_gradients(views, &config, Options::default(), &mut scratch, &mut ga, &mut gb).unwrap();
    assert!(t.loss.is_finite() && t.covariance == 0.0);
    let scaled_a = z_a.map(|v| v * 1e15);
    let scaled_b = z_b.map(|v| v * 1e15);
    let views = Views::new(&scaled_a, &scaled_b, 1).unwrap();
    let options = Options { side: CovarianceSide::BatchSide, lanes: Lanes::Wide };
    let mut scratch = vec![0.0; vicreg::scratch_len(4, 1, CovarianceSide::BatchSide)];
    let t = vicreg::loss_and_gradients(views, &vicreg::Config::default(), options, &mut scratch, &mut ga, &mut gb);
    assert!(t.is_ok_and(|t| t.loss.is_finite()), "{t:?}");
}
