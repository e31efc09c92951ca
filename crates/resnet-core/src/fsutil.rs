//! Small file-system helpers: atomic writes that never leave a half-written file in place.
use crate::error::{Error, Result};
use std::fs::File;
use std::path::{Path, PathBuf};

/// Writes `path` through a temporary sibling that is synced and then renamed over it, so a
/// crash leaves either the old file or the new one. The temporary keeps `path`'s extension
/// because some writers choose their format from it.
pub fn write_atomically(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let temporary = temporary_sibling(path);
    let outcome = write(&temporary).and_then(|()| {
        give_usual_permissions(&temporary)?;
        let file = File::open(&temporary).map_err(|error| Error::io("reopen", &temporary, error))?;
        file.sync_all().map_err(|error| Error::io("sync", &temporary, error))?;
        std::fs::rename(&temporary, path).map_err(|error| Error::io("rename into place", path, error))
    });
    if outcome.is_err() {
        let _ = std::fs::remove_file(&temporary);
        return outcome;
    }
    sync_parent(path);
    Ok(())
}

/// Gives the file `source` a second name, `path`, atomically: a hard link made beside `path`
/// and renamed over it, so `path` names either its old file or `source`'s, never nothing. No
/// byte is copied. Fails where the file system has no hard links (the caller then copies).
pub fn link_atomically(source: &Path, path: &Path) -> Result<()> {
    let temporary = temporary_sibling(path);
    let _ = std::fs::remove_file(&temporary);
    std::fs::hard_link(source, &temporary).map_err(|error| Error::io("link", &temporary, error))?;
    if let Err(error) = std::fs::rename(&temporary, path) {
        let _ = std::fs::remove_file(&temporary);
        return Err(Error::io("rename into place", path, error));
    }
    sync_parent(path);
    Ok(())
}

/// Persists a rename into `path`'s directory; a directory that cannot be opened is not worth
/// failing for.
fn sync_parent(path: &Path) {
    if let Some(directory) = path.parent().and_then(|parent| File::open(parent).ok()) {
        let _ = directory.sync_all();
    }
}

/// Sets the mode a plainly created file gets (0666 less the umask; 0644 with the usual
/// umask): some writers (safetensors) create 0600 files, which a model directory copied to a
/// server running as another user could not be read from.
fn give_usual_permissions(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = 0o666 & !process_umask();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|error| Error::io("set permissions of", path, error))?;
    }
    Ok(())
}

/// The process's umask, read without changing it (umask(2) can only set it, which would race
/// with other threads creating files); 022 where /proc does not say.
#[cfg(unix)]
fn process_umask() -> u32 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|line| line.starts_with("Umask:"))?;
            u32::from_str_radix(line.trim_start_matches("Umask:").trim(), 8).ok()
        })
        .unwrap_or(0o022)
}

/// Writes a text file atomically.
pub fn write_text_atomically(path: &Path, text: &str) -> Result<()> {
    write_atomically(path, |temporary| {
        std::fs::write(temporary, text).map_err(|error| Error::io("write", temporary, error))
    })
}

const TEMPORARY_PREFIX: &str = ".tmp-";

fn temporary_sibling(path: &Path) -> PathBuf {
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    path.with_file_name(format!("{TEMPORARY_PREFIX}{}-{name}", std::process::id()))
}

/// Deletes the temporary files that a killed writer left in `dir` (its process no longer
/// exists), so that crashes do not pile up half-written checkpoints. Returns how many.
/// A writer that is still running keeps its file. Called as a run starts on its output
/// directory, which only that run writes.
pub fn remove_stale_temporaries(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stale = match name.strip_prefix(TEMPORARY_PREFIX).and_then(|rest| rest.split('-').next()) {
                Some(pid) => pid.parse::<u32>().is_ok_and(|pid| pid != std::process::id() && !Path::new(&format!("/proc/{pid}")).exists()),
                None => is_safetensors_temporary(&name),
            };
            stale && entry.file_type().is_ok_and(|kind| kind.is_file()) && std::fs::remove_file(entry.path()).is_ok()
        })
        .count()
}

/// The `safetensors` crate writes each file through a `tempfile` sibling (".tmp" and six
/// letters or digits) that it renames onto ours; a kill -9 in between leaves it behind.
fn is_safetensors_temporary(name: &str) -> bool {
    name.strip_prefix(".tmp").is_some_and(|rest| rest.len() == 6 && rest.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Creates `dir` and proves it writable before any long work starts.
pub fn ensure_writable_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|error| Error::io("create the output directory", dir, error))?;
    let probe = dir.join(format!(".write-test-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|error| Error::io("write into the output directory", dir, error))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The size of `path` if it is a regular file inside `dir` (after following links), else why
/// not: a FIFO would block a read forever, a device may never end, and a link leading out of
/// a model directory would read someone else's file.
pub fn regular_file_within(dir: &Path, path: &Path) -> std::result::Result<u64, String> {
    let metadata = std::fs::metadata(path).map_err(|error| format!("cannot read: {error}"))?;
    if !metadata.is_file() {
        let kind = if metadata.is_dir() { "a directory" } else { "not a regular file" };
        return Err(format!("expected a regular file, found {kind}"));
    }
    let inside = match (dir.canonicalize(), path.canonicalize()) {
        (Ok(dir), Ok(file)) => file.starts_with(&dir),
        _ => false,
    };
    if !inside {
        return Err(format!("expected a file inside the model directory {}, found a link leading out of it", dir.display()));
    }
    Ok(metadata.len())
}
