//! What the host does for the watch firmware: its recordings (the test
//! split, stored compactly) and its pretrained encoder (the host job's,
//! trained on the training split, without drift). The `adapt` binary writes both into
//! `examples/motion-adapt/`, and the sensor firmware's checkpoint into
//! `examples/sensor-adapt/`; [`camera`] does the same for the camera
//! firmware (`examples/camera-adapt/`).

pub mod camera;

use motion_adapt::watch::Recordings;
use train_motions::data::{self, Recording};
use vicreg::Pcg32;

/// The recordings of one split, encoded as the firmware stores them.
pub fn encoded(train: bool) -> Result<Vec<u8>, String> {
    let all = data::load(&data::default_path())?;
    let split: Vec<&Recording> = all.iter().filter(|r| r.train == train).collect();
    let mut out = vec![0u8; Recordings::bytes_for(split.len())];
    Recordings::encode(split.iter().map(|r| (r.label, r.samples.as_slice())), &mut out).ok_or("cannot encode")?;
    Ok(out)
}

/// The host job's encoder, as `train-motions` trains it with its defaults
/// (seed, epochs, learning rate, on the training split): the checkpoint
/// the watch fine-tunes, without optimiser state.
///
/// # Errors
///
/// The data's, or a step's.
pub fn pretrain() -> Result<Vec<u8>, String> {
    let all = data::load(&data::default_path())?;
    let train: Vec<&Recording> = all.iter().filter(|r| r.train).collect();
    let mut trainer = train_motions::trainer(train_motions::LR, train_motions::EPOCHS, train.len());
    let mut rng = Pcg32::new(train_motions::SEED);
    trainer.init(&mut rng);
    train_motions::train(&mut trainer, &train, train_motions::EPOCHS, &mut rng, |_| true)
        .map_err(|(step, e)| format!("step {step}: {e}"))?;
    let mut bytes = vec![0u8; train_motions::Motions::checkpoint_bytes(false)];
    trainer.save(&mut bytes, false).map_err(|e| e.to_string())?;
    Ok(bytes)
}
