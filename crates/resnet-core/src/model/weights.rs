//! Reading and writing `model.safetensors`: float32 tensors named as torchvision's
//! `state_dict`. Loading checks every name, dtype and shape before copying, and never runs code.
use crate::error::{Error, Result};
use super::snapshot::HostSnapshot;
use crate::fsutil::{regular_file_within, write_atomically};
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;
use std::path::Path;
use tch::{nn::VarStore, Kind, Tensor};

/// Copies the weights in `path` (a regular file inside `dir`) into `vs`. Extra entries such
/// as `num_batches_tracked` are ignored; a missing one, a wrong shape or a wrong dtype is an
/// error, and so is a tensor the network lacks (another arch's file: resnet34's names include
/// all of resnet18's, with the same shapes). A file far larger than the network is refused
/// before it is read.
pub fn load_into(vs: &VarStore, dir: &Path, path: &Path) -> Result<()> {
    let bytes = read_bounded(vs, dir, path)?;
    load_matching(vs, &bytes, path, |_| true, Extra::Refused).map(|_| ())
}

/// The classifier's variables, which a pretrained body leaves to be sized for new classes.
pub fn is_head(name: &str) -> bool {
    name.starts_with("fc.")
}

/// Copies every weight but the classifier's from `path` (a torchvision `state_dict` as
/// safetensors) into `vs`: fine-tuning keeps the body and learns a new head. Returns how
/// many tensors were copied.
pub fn load_body(vs: &VarStore, path: &Path) -> Result<usize> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let bytes = read_bounded(vs, dir, path)?;
    load_matching(vs, &bytes, path, |name| !is_head(name), Extra::Refused)
}

/// Copies the weights held in `bytes` (the contents of `path`, named in errors) into `vs`,
/// ignoring entries the network lacks (a checkpoint also holds the optimiser's state).
pub fn load_bytes(vs: &VarStore, bytes: &[u8], path: &Path) -> Result<()> {
    load_matching(vs, bytes, path, |_| true, Extra::Ignored).map(|_| ())
}

/// What to do with tensors the network lacks.
enum Extra {
    Refused,
    Ignored,
}

/// The bytes of `path`, a regular file inside `dir` of at most `size_limit(vs)` bytes.
fn read_bounded(vs: &VarStore, dir: &Path, path: &Path) -> Result<Vec<u8>> {
    let size = regular_file_within(dir, path).map_err(|reason| Error::model_file(path, format!("cannot read weights: {reason}")))?;
    let limit = size_limit(vs);
    if size > limit {
        return Err(Error::model_file(path, format!("expected weights of at most {limit} bytes for this arch and class count, found {size} bytes")));
    }
    std::fs::read(path).map_err(|error| Error::model_file(path, format!("cannot read weights: {error}")))
}

/// The most bytes a weights file for `vs` may take: twice its float32 parameters, plus room
/// for a header and extra entries (safetensors itself caps the header at 100 MB).
fn size_limit(vs: &VarStore) -> u64 {
    let parameters: i64 = vs.variables().values().map(Tensor::numel).map(|n| n as i64).sum();
    (parameters as u64) * 8 + (128 << 20)
}

/// Copies the variables of `vs` that `wanted` selects from the safetensors `bytes`; returns
/// how many.
fn load_matching(vs: &VarStore, bytes: &[u8], path: &Path, wanted: impl Fn(&str) -> bool, extra: Extra) -> Result<usize> {
    let file = SafeTensors::deserialize(bytes)
        .map_err(|error| Error::model_file(path, format!("not a valid safetensors file: {error}")))?;
    let known = vs.variables();
    // Checked after the network's own tensors, whose absence or shape says more.
    let unknown = file.names().into_iter().find(|name| !known.contains_key(*name) && !name.ends_with("num_batches_tracked")).map(str::to_owned);
    let mut variables: Vec<(String, Tensor)> = known.into_iter().filter(|(name, _)| wanted(name)).collect();
    variables.sort_by(|a, b| a.0.cmp(&b.0));
    let _guard = tch::no_grad_guard();
    let copied = variables.len();
    for (name, mut variable) in variables {
        let view = file
            .tensor(&name)
            .map_err(|_| Error::model_file(path, format!("expected a tensor named {name:?}, found none")))?;
        if view.dtype() != Dtype::F32 {
            return Err(Error::model_file(path, format!("expected {name} as float32, found {:?}", view.dtype())));
        }
        let expected = variable.size();
        let found: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        if expected != found {
            return Err(Error::model_file(
                path,
                format!("expected {name} with shape {expected:?} for this arch and class count, found {found:?}"),
            ));
        }
        let source = Tensor::f_from_data_size(view.data(), &found, Kind::Float)?;
        variable.f_copy_(&source)?;
    }
    if let (Some(unknown), Extra::Refused) = (unknown, &extra) {
        return Err(Error::model_file(path, format!("found a tensor named {unknown:?} that this arch does not have")));
    }
    Ok(copied)
}

/// A float32 tensor's bytes as safetensors stores them, borrowed from a host snapshot.
struct Raw<'a> {
    shape: &'a [usize],
    data: &'a [u8],
}

impl safetensors::View for &Raw<'_> {
    fn dtype(&self) -> Dtype {
        Dtype::F32
    }

    fn shape(&self) -> &[usize] {
        self.shape
    }

    fn data(&self) -> std::borrow::Cow<'_, [u8]> {
        std::borrow::Cow::Borrowed(self.data)
    }

    fn data_len(&self) -> usize {
        self.data.len()
    }
}

/// Writes `named` float tensors (copied to the host first) and optional string metadata as
/// one safetensors file, atomically.
pub fn write_file(path: &Path, named: &[(String, Tensor)], metadata: Option<HashMap<String, String>>) -> Result<()> {
    write_snapshot(path, &HostSnapshot::take(named)?, |_| true, metadata)
}

/// Writes the tensors of `snapshot` whose names `select` accepts, and optional string
/// metadata, as one safetensors file, atomically. Needs no libtorch call: another thread may
/// write while training goes on.
pub fn write_snapshot(
    path: &Path,
    snapshot: &HostSnapshot,
    select: impl Fn(&str) -> bool,
    metadata: Option<HashMap<String, String>>,
) -> Result<()> {
    let raws: Vec<(&str, Raw)> =
        snapshot.tensors().filter(|(name, _, _)| select(name)).map(|(name, shape, data)| (name, Raw { shape, data })).collect();
    write_atomically(path, |temporary| {
        safetensors::serialize_to_file(raws.iter().map(|(name, raw)| (*name, raw)), metadata, temporary)
            .map_err(|error| Error::io("write", temporary, std::io::Error::other(error.to_string())))
    })
}

/// The float32 tensors of a safetensors file whose names start with `prefix`, and its
/// string metadata.
pub fn read_file(path: &Path, prefix: &str) -> Result<(HashMap<String, Tensor>, HashMap<String, String>)> {
    if !path.is_file() {
        return Err(Error::model_file(path, "expected a regular file, found none or something else"));
    }
    let bytes = std::fs::read(path).map_err(|error| Error::model_file(path, format!("cannot read: {error}")))?;
    let (_, header) = SafeTensors::read_metadata(&bytes)
        .map_err(|error| Error::model_file(path, format!("not a valid safetensors file: {error}")))?;
    let file = SafeTensors::deserialize(&bytes)
        .map_err(|error| Error::model_file(path, format!("not a valid safetensors file: {error}")))?;
    let mut tensors = HashMap::new();
    for (name, view) in file.tensors() {
        if !name.starts_with(prefix) {
            continue;
        }
        if view.dtype() != Dtype::F32 {
            return Err(Error::model_file(path, format!("expected {name} as float32, found {:?}", view.dtype())));
        }
        let shape: Vec<i64> = view.shape().iter().map(|&d| d as i64).collect();
        tensors.insert(name, Tensor::f_from_data_size(view.data(), &shape, Kind::Float)?);
    }
    Ok((tensors, header.metadata().clone().unwrap_or_default()))
}
