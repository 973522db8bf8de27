//! What the host does for the watch firmware: its recordings (the test
//! split, stored compactly) and its pretrained encoder (trained on the
//! training split, without drift). The `adapt` binary writes both into
//! `examples/motion-adapt/`, and the sensor firmware's checkpoint into
//! `examples/sensor-adapt/`; [`camera`] does the same for the camera
//! firmware (`examples/camera-adapt/`).

pub mod camera;

use motion_adapt::watch::{self, Drift, Net, PRETRAIN_STEPS, Recordings, Views};
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

/// Pretrains the watch's network from seed 7 on the training recordings
/// (augmentations from seed 1007); returns the failed steps.
pub fn pretrain(net: &mut Net) -> Result<u32, String> {
    let bytes = encoded(true)?;
    let recordings = Recordings::parse(&bytes).ok_or("bad recordings")?;
    net.init(&mut Pcg32::new(7));
    let mut views = Box::new(Views::new());
    Ok(watch::train(net, &mut views, &recordings, &Drift::NONE, PRETRAIN_STEPS, &mut Pcg32::new(1007), |_, _| {}))
}
