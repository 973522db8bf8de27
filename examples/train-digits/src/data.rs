//! The digits data set (`data/digits.csv`): 8×8 images, pixels 0–16, a fixed
//! train/test split.

use std::path::Path;

/// One image.
#[derive(Clone, Debug)]
pub struct Digit {
    /// Whether it belongs to the training split.
    pub train: bool,
    /// The digit, 0–9.
    pub label: usize,
    /// Pixels divided by 16, row-major.
    pub pixels: [f32; 64],
}

/// The data set shipped with the repository.
pub fn default_path() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/digits.csv")
}

/// Reads the CSV (`split,label,p0,…,p63`, pixels 0–16) and scales the
/// pixels to 0–1.
pub fn load(path: &Path) -> Result<Vec<Digit>, String> {
    linear_probe::table::read(path, "p0", 64, 10)?
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            if let Some(v) = row.values.iter().find(|v| !(0.0..=16.0).contains(*v)) {
                return Err(format!("{} sample {}: pixel {v} is outside 0–16", path.display(), i + 1));
            }
            let mut pixels = [0.0; 64];
            for (p, v) in pixels.iter_mut().zip(&row.values) {
                *p = v / 16.0;
            }
            Ok(Digit { train: row.train, label: row.label, pixels })
        })
        .collect()
}
