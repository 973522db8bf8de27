//! The data sets' shared layout, read with the `csv` crate: a header
//! `split,label,<values…>`, then one sample per row: `train` or `test`, a
//! class number, and its values.

use std::path::Path;

/// One sample as the file has it.
#[derive(Clone, Debug)]
pub struct Row {
    /// Whether it belongs to the training split.
    pub train: bool,
    /// Its class, below the data set's count.
    pub label: usize,
    /// Its values, finite.
    pub values: Vec<f32>,
}

/// Reads `path`: the header must start with `split,label,{first}` and have
/// `values` value columns; every label is below `classes` and every value
/// finite; both splits have samples.
///
/// # Errors
///
/// A sentence naming the file, the line and what is wrong with it.
pub fn read(path: &Path, first: &str, values: usize, classes: usize) -> Result<Vec<Row>, String> {
    let mut reader =
        csv::ReaderBuilder::new().has_headers(true).from_path(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let header = reader.headers().map_err(|e| format!("{}: {e}", path.display()))?.clone();
    let expected = header.len() == 2 + values
        && header.get(0) == Some("split")
        && header.get(1) == Some("label")
        && header.get(2) == Some(first);
    if !expected {
        return Err(format!(
            "{}: the header is not split,label,{first},… with {values} values ({} columns found)",
            path.display(),
            header.len()
        ));
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
        let line = record.position().map_or(0, csv::Position::line);
        let bad = |what: String| format!("{} line {line}: {what}", path.display());
        let train = match record.get(0) {
            Some("train") => true,
            Some("test") => false,
            other => return Err(bad(format!("split {other:?} is not train or test"))),
        };
        let label =
            record.get(1).and_then(|l| l.parse::<usize>().ok()).filter(|&l| l < classes).ok_or_else(|| {
                bad(format!("label {:?} is not a class below {classes}", record.get(1).unwrap_or("")))
            })?;
        let values = record
            .iter()
            .skip(2)
            .enumerate()
            .map(|(i, f)| match f.trim().parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(bad(format!("{} {f:?} is not a finite number", header.get(2 + i).unwrap_or("value")))),
            })
            .collect::<Result<Vec<f32>, String>>()?;
        rows.push(Row { train, label, values });
    }
    // Training needs the training split and the probe scores on the test
    // split: a file without either would train on nothing or score nothing.
    for (train, split) in [(true, "train"), (false, "test")] {
        if !rows.iter().any(|r| r.train == train) {
            return Err(format!("{}: no {split} samples (every job needs both splits)", path.display()));
        }
    }
    Ok(rows)
}
