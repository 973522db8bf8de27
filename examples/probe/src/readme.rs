//! The README's result tables, generated from the jobs' own output: each
//! job's end-to-end test builds the table from what the job printed and
//! compares it with the README's block, which records the kernels it was
//! made with. `VICREG_WRITE_README=1` writes the block instead of comparing.

use std::path::PathBuf;

fn readme() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
}

/// The Markdown table a job printed: its lines that start with `|`.
#[must_use]
pub fn table(stdout: &str) -> Vec<String> {
    stdout.lines().filter(|l| l.starts_with('|')).map(str::to_owned).collect()
}

/// The kernels a job said it ran (`kernels: NAME (…)`).
#[must_use]
pub fn kernels(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("kernels: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or("unknown")
        .to_owned()
}

/// Tables of the same rows from several seeds in one: each number cell
/// becomes `a / b / …`, and the first column of each data row says which
/// seeds (`raw pixels, seed 0 / 1`).
#[must_use]
pub fn merge_seeds(tables: &[(u64, Vec<String>)]) -> Vec<String> {
    let Some((_, first)) = tables.first() else { return Vec::new() };
    let seeds = tables.iter().map(|(s, _)| s.to_string()).collect::<Vec<_>>().join(" / ");
    (0..first.len())
        .map(|i| {
            if i < 2 {
                return first[i].clone();
            }
            let rows: Vec<Vec<&str>> = tables.iter().map(|(_, t)| t[i].split('|').map(str::trim).collect()).collect();
            let cells: Vec<String> = (1..rows[0].len().saturating_sub(1))
                .map(|c| {
                    if c == 1 {
                        format!("{}, seed {seeds}", rows[0][1])
                    } else {
                        rows.iter().map(|r| r.get(c).copied().unwrap_or("")).collect::<Vec<_>>().join(" / ")
                    }
                })
                .collect();
            format!("| {} |", cells.join(" | "))
        })
        .collect()
}

/// What [`check`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The README's table is the job's.
    Same,
    /// The README's table was made with other kernels (named): its numbers
    /// are not this machine's, and the caller's anchor checks stand instead.
    OtherKernels(String),
    /// `VICREG_WRITE_README` was set: the block was written.
    Written,
}

/// Compares the README's block `name` with `table`, made by a job that ran
/// `kernels`.
///
/// # Panics
///
/// When the README has no block `name`, or the same kernels made another
/// table: the README says what the job does not.
#[must_use]
pub fn check(name: &str, kernels: &str, table: &[String]) -> Verdict {
    let path = readme();
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let open = format!("<!-- begin {name} (kernels: ");
    let close = format!("<!-- end {name} -->");
    let start = text.find(&open).unwrap_or_else(|| panic!("README.md has no block {name}"));
    let header_end = start + text[start..].find("-->\n").expect("a closed comment") + 4;
    let end = text[header_end..].find(&close).map(|e| header_end + e).expect("the block's end");
    let recorded = text[start + open.len()..].split(')').next().unwrap_or("");
    let made: String = table.iter().map(|l| format!("{l}\n")).collect();
    if std::env::var_os("VICREG_WRITE_README").is_some() {
        let block = format!("{open}{kernels}) -->\n{made}");
        let new = format!("{}{block}{}", &text[..start], &text[end..]);
        crate::output::replace(&path, new.as_bytes()).expect("README.md written");
        return Verdict::Written;
    }
    if recorded != kernels {
        eprintln!(
            "README.md's {name} table was made with the {recorded} kernels, this machine runs {kernels}: its numbers are not compared, the anchor is"
        );
        return Verdict::OtherKernels(recorded.to_owned());
    }
    assert_eq!(
        &text[header_end..end],
        made,
        "README.md's {name} table is not what the job printed (run its test with VICREG_WRITE_README=1 to write it)"
    );
    Verdict::Same
}
