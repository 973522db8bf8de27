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

/// Reads the CSV (`split,label,p0,…,p63`).
pub fn load(path: &Path) -> Result<Vec<Digit>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut lines = text.lines();
    let header = lines.next().ok_or("empty file")?;
    if !header.starts_with("split,label,p0") {
        return Err(format!("unexpected header {header:?}"));
    }
    lines
        .enumerate()
        .map(|(i, line)| {
            let bad = |what: &str| format!("line {}: {what}", i + 2);
            let mut fields = line.split(',');
            let train = match fields.next() {
                Some("train") => true,
                Some("test") => false,
                _ => return Err(bad("split is not train or test")),
            };
            let label = fields.next().and_then(|l| l.parse().ok()).filter(|&l| l < 10).ok_or_else(|| bad("label"))?;
            let mut pixels = [0.0; 64];
            for p in &mut pixels {
                let v: f32 = fields.next().and_then(|f| f.parse().ok()).ok_or_else(|| bad("pixel"))?;
                *p = v / 16.0;
            }
            if fields.next().is_some() {
                return Err(bad("more than 64 pixels"));
            }
            Ok(Digit { train, label, pixels })
        })
        .collect()
}
