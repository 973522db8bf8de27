//! The BasicMotions recordings (`data/basicmotions.csv`): 6 channels (3-axis
//! accelerometer, 3-axis gyroscope) × 100 samples at 10 Hz, channel-major,
//! four activities, the archive's train/test split.

use std::path::Path;

pub use motion_adapt::{CHANNELS, CLASSES, LENGTH};

/// One recording.
#[derive(Clone, Debug)]
pub struct Recording {
    /// Whether it belongs to the training split.
    pub train: bool,
    /// The activity, 0–3.
    pub label: usize,
    /// Samples, channel-major (`c·100 + t`), standardised per channel.
    pub samples: Vec<f32>,
}

/// The data set shipped with the repository.
pub fn default_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/basicmotions.csv")
}

/// Reads the CSV (`split,label,c0t0,…,c5t99`) and standardises each channel
/// with the mean and standard deviation of the training split.
pub fn load(path: &Path) -> Result<Vec<Recording>, String> {
    load_with_scaling(path).map(|(recordings, _)| recordings)
}

/// A channel's (mean, standard deviation) over the training split.
pub type Scaling = (f64, f64);

/// [`load`], and each channel's (mean, standard deviation) from the training
/// split, which a deployed encoder's input must be scaled with.
pub fn load_with_scaling(path: &Path) -> Result<(Vec<Recording>, Vec<Scaling>), String> {
    let mut recordings: Vec<Recording> = linear_probe::table::read(path, "c0t0", CHANNELS * LENGTH, CLASSES)?
        .into_iter()
        .map(|row| Recording { train: row.train, label: row.label, samples: row.values })
        .collect();
    if !recordings.iter().any(|r| r.train) {
        return Err(format!("{}: no training recordings", path.display()));
    }
    let mut scaling = Vec::with_capacity(CHANNELS);
    for c in 0..CHANNELS {
        let values =
            || recordings.iter().filter(|r| r.train).flat_map(|r| r.samples[c * LENGTH..(c + 1) * LENGTH].iter());
        let count = values().count() as f64;
        let mean = values().map(|&v| f64::from(v)).sum::<f64>() / count;
        let var = values().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / count;
        let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 };
        scaling.push((mean, 1.0 / scale));
        for r in &mut recordings {
            for v in &mut r.samples[c * LENGTH..(c + 1) * LENGTH] {
                *v = ((f64::from(*v) - mean) * scale) as f32;
            }
        }
    }
    Ok((recordings, scaling))
}
