//! Scanning a dataset split: one folder per class, images anywhere below it. Files are
//! recognised as images by their leading bytes; everything skipped is reported, never dropped.
use crate::error::{Error, Result};
use rayon::prelude::*;
use std::io::Read;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub path: PathBuf,
    pub label: usize,
}

/// A file that will not be used, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Skipped {
    pub path: PathBuf,
    pub reason: String,
}

#[derive(Debug, Clone)]
pub struct Split {
    pub samples: Vec<Sample>,
    pub skipped: Vec<Skipped>,
}

/// Sorted names of the class folders directly under `dir`.
pub fn class_names(dir: &Path) -> Result<Vec<String>> {
    let entries = std::fs::read_dir(dir).map_err(|error| Error::dataset(format!("cannot read the folder: {error}"), dir))?;
    let mut names: Vec<String> = entries
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    if names.is_empty() {
        return Err(Error::dataset("expected one folder per class, found no class folders", dir));
    }
    Ok(names)
}

/// Lists the images of `dir/<class>/**` for the given classes. A class folder that `dir`
/// holds but `classes` lacks is an error (its labels would be misaligned).
pub fn scan_split(dir: &Path, classes: &[String]) -> Result<Split> {
    let present = class_names(dir)?;
    let unknown: Vec<&String> = present.iter().filter(|name| !classes.contains(name)).collect();
    if !unknown.is_empty() {
        return Err(Error::dataset(
            format!("expected only the training classes {classes:?}, found unknown class folder(s) {unknown:?}"),
            dir,
        ));
    }
    let mut candidates = Vec::new();
    let mut skipped = Vec::new();
    for (label, class) in classes.iter().enumerate() {
        let class_dir = dir.join(class);
        if !class_dir.is_dir() {
            continue;
        }
        let before = candidates.len();
        for entry in walkdir::WalkDir::new(&class_dir).follow_links(true).sort_by_file_name() {
            match entry {
                Ok(entry) if entry.file_type().is_file() => {
                    if !entry.file_name().to_string_lossy().starts_with('.') {
                        candidates.push(Sample { path: entry.into_path(), label });
                    }
                }
                Ok(_) => {}
                Err(error) => skipped.push(Skipped {
                    path: error.path().map(Path::to_path_buf).unwrap_or_else(|| class_dir.clone()),
                    reason: format!("cannot read: {error}"),
                }),
            }
        }
        if candidates.len() == before {
            skipped.push(Skipped { path: class_dir, reason: "class folder holds no files".into() });
        }
    }
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_file() && !entry.file_name().to_string_lossy().starts_with('.') {
            skipped.push(Skipped { path, reason: "file outside any class folder".into() });
        }
    }
    let sniffed: Vec<std::result::Result<Sample, Skipped>> = candidates
        .into_par_iter()
        .map(|sample| match sniff(&sample.path) {
            Ok(()) => Ok(sample),
            Err(reason) => Err(Skipped { path: sample.path, reason }),
        })
        .collect();
    let mut samples = Vec::with_capacity(sniffed.len());
    for outcome in sniffed {
        match outcome {
            Ok(sample) => samples.push(sample),
            Err(skip) => skipped.push(skip),
        }
    }
    Ok(Split { samples, skipped })
}

/// Checks the leading bytes for a known image format, whatever the file is called.
fn sniff(path: &Path) -> std::result::Result<(), String> {
    let mut head = [0u8; 32];
    let mut file = std::fs::File::open(path).map_err(|error| format!("cannot open: {error}"))?;
    let mut filled = 0;
    while filled < head.len() {
        match file.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(read) => filled += read,
            Err(error) => return Err(format!("cannot read: {error}")),
        }
    }
    if filled == 0 {
        return Err("empty file (0 bytes)".into());
    }
    image::guess_format(&head[..filled]).map(|_| ()).map_err(|_| super::decode::NOT_AN_IMAGE.to_string())
}

/// Splits `samples` per class: a seeded shuffle of each class, of which
/// round(n * validation_fraction) go to validation (at least one when the class has two or
/// more images, so every class is validated; none from a class of one).
pub fn stratified_split(samples: Vec<Sample>, validation_fraction: f64, seed: u64) -> (Vec<Sample>, Vec<Sample>) {
    use rand::seq::SliceRandom;
    use rand::SeedableRng;
    let classes = samples.iter().map(|s| s.label + 1).max().unwrap_or(0);
    let mut by_class: Vec<Vec<Sample>> = vec![Vec::new(); classes];
    for sample in samples {
        by_class[sample.label].push(sample);
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let (mut train, mut validation) = (Vec::new(), Vec::new());
    for mut members in by_class {
        members.shuffle(&mut rng);
        let wanted = (members.len() as f64 * validation_fraction).round() as usize;
        let count = if members.len() >= 2 { wanted.clamp(1, members.len() - 1) } else { 0 };
        validation.extend(members.drain(..count));
        train.extend(members);
    }
    (train, validation)
}
