//! The files a job writes, written so that a file the user already had is
//! never lost: each output is checked before any work starts without
//! touching what is there, and written whole to a temporary file beside it,
//! flushed to the disk, then renamed over the old one. A run that fails, is
//! refused or is stopped part-way leaves every existing file byte for byte
//! as it was.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

/// The temporary file a write of `path` goes through: hidden, in the same
/// folder (a rename is atomic only within one file system), and unique to
/// this process and this write.
fn temporary(path: &Path) -> PathBuf {
    static WRITES: AtomicU32 = AtomicU32::new(0);
    let name = path.file_name().map_or_else(|| "output".into(), |n| n.to_string_lossy().into_owned());
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{}.{n}.part", std::process::id()))
}

/// Checks that `path` can be written by [`replace`] later, without touching
/// it: its folder exists or is created, the path is not a folder, and a
/// file can be created in that folder (one is, and removed at once).
/// `flag` names the option in the message.
///
/// # Errors
///
/// A sentence naming the option, the path and what is wrong.
pub fn check(flag: &str, path: &Path) -> Result<(), String> {
    let fail = |what: String| format!("{flag} {}: {what}", path.display());
    if path.file_name().is_none() {
        return Err(fail("names a folder, not a file".into()));
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if dir.exists() && !dir.is_dir() {
            return Err(fail(format!("{} is a file, not a folder", dir.display())));
        }
        std::fs::create_dir_all(dir).map_err(|e| fail(format!("cannot create the folder {}: {e}", dir.display())))?;
    }
    if path.is_dir() {
        return Err(fail("is a folder, not a file".into()));
    }
    let probe = temporary(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map_err(|e| fail(format!("cannot create a file in its folder: {e}")))?;
    std::fs::remove_file(&probe).map_err(|e| fail(format!("cannot remove {}: {e}", probe.display())))
}

/// Writes `bytes` to `path` whole or not at all: to a temporary file in the
/// same folder, flushed and synced, then renamed over `path`. On any error
/// the temporary file is removed and `path` is as it was.
///
/// # Errors
///
/// The path and why it could not be written.
pub fn replace(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let part = temporary(path);
    let written = (|| {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).open(&part)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&part, path)?;
        // The rename itself is durable once the folder's entry is synced
        // (where a folder can be opened; elsewhere the rename stands as is).
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        if let Ok(dir) = std::fs::File::open(dir) {
            let _ = dir.sync_all();
        }
        Ok::<(), std::io::Error>(())
    })();
    written.map_err(|e| {
        let _ = std::fs::remove_file(&part);
        format!("{}: {e}", path.display())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("probe-output-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    #[test]
    fn check_leaves_an_existing_file_and_its_folder_as_they_were() {
        let dir = folder("check");
        let path = dir.join("kept.ckpt");
        std::fs::write(&path, b"trained weights").unwrap();
        check("--save", &path).unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"trained weights");
        assert_eq!(entries(&dir), ["kept.ckpt"]);
        // A new file is not created by the check either, only its folder.
        check("--plot", &dir.join("sub/new.svg")).unwrap();
        assert!(dir.join("sub").is_dir() && !dir.join("sub/new.svg").exists());
    }

    #[test]
    fn check_refuses_what_cannot_be_written() {
        let dir = folder("refuse");
        std::fs::write(dir.join("file"), b"x").unwrap();
        let under_file = check("--plot", &dir.join("file/x.svg")).unwrap_err();
        assert!(under_file.starts_with("--plot") && under_file.contains("not a folder"), "{under_file}");
        let a_folder = check("--save", &dir).unwrap_err();
        assert!(a_folder.contains("is a folder"), "{a_folder}");
        assert_eq!(entries(&dir), ["file"]);
    }

    #[test]
    fn replace_swaps_the_whole_file_and_leaves_nothing_beside_it() {
        let dir = folder("replace");
        let path = dir.join("out.csv");
        std::fs::write(&path, b"old").unwrap();
        replace(&path, b"new contents").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"new contents");
        assert_eq!(entries(&dir), ["out.csv"]);
        // A rename that cannot happen (the target is a non-empty folder)
        // fails, removes its temporary file and touches nothing.
        std::fs::create_dir_all(dir.join("busy/inside")).unwrap();
        assert!(replace(&dir.join("busy"), b"x").is_err());
        assert_eq!(entries(&dir), ["busy", "out.csv"]);
    }
}
