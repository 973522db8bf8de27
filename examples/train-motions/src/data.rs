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
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty file")?;
    if !header.starts_with("split,label,c0t0,") || header.split(',').count() != 2 + CHANNELS * LENGTH {
        return Err(format!("{}: not the BasicMotions layout (split,label,c0t0…c5t99)", path.display()));
    }
    let mut recordings: Vec<Recording> = lines
        .enumerate()
        .map(|(i, line)| {
            let bad = |what: &str| format!("{} line {}: {what}", path.display(), i + 2);
            let mut fields = line.split(',');
            let train = match fields.next() {
                Some("train") => true,
                Some("test") => false,
                _ => return Err(bad("split is not train or test")),
            };
            let label =
                fields.next().and_then(|l| l.parse().ok()).filter(|&l| l < CLASSES).ok_or_else(|| bad("label"))?;
            let samples: Vec<f32> = fields
                .map(|f| f.parse::<f32>().ok().filter(|v| v.is_finite()))
                .collect::<Option<_>>()
                .ok_or_else(|| bad("a sample is not a finite number"))?;
            if samples.len() != CHANNELS * LENGTH {
                return Err(bad(&format!("{} samples, expected {}", samples.len(), CHANNELS * LENGTH)));
            }
            Ok(Recording { train, label, samples })
        })
        .collect::<Result<_, _>>()?;
    if !recordings.iter().any(|r| r.train) {
        return Err(format!("{}: no training recordings", path.display()));
    }
    for c in 0..CHANNELS {
        let values =
            || recordings.iter().filter(|r| r.train).flat_map(|r| r.samples[c * LENGTH..(c + 1) * LENGTH].iter());
        let count = values().count() as f64;
        let mean = values().map(|&v| f64::from(v)).sum::<f64>() / count;
        let var = values().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / count;
        let scale = if var > 0.0 { 1.0 / var.sqrt() } else { 1.0 };
        for r in &mut recordings {
            for v in &mut r.samples[c * LENGTH..(c + 1) * LENGTH] {
                *v = ((f64::from(*v) - mean) * scale) as f32;
            }
        }
    }
    Ok(recordings)
}
