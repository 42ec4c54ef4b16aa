//! # Saving and loading a trained network (safetensors)
//!
//! A trained network is its parameters plus the sizes they belong to. They
//! go into a [safetensors](https://huggingface.co/docs/safetensors) file: an
//! 8-byte header length, a JSON header naming each tensor with its dtype,
//! shape and byte range, then the raw little-endian numbers. Other tools
//! (PyTorch, numpy) can read it.
//!
//! Every network of stages 4 to 7 is saved and loaded here: it names its
//! tensors and metadata ([`Trainable::model`]) and rebuilds itself from a
//! checked [`ModelFile`] ([`Trainable::from_model`]). The metadata's
//! `format` names the program that wrote the file, so a file of another
//! stage is recognised as such. Loading checks every number and says what
//! is wrong, naming the file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use safetensors::{Dtype, SafeTensors};

use crate::engine::network::Trainable;

/// Everything that can be wrong with a model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    // `cause`, not `source`: the message already says it, and a source would
    // be printed a second time by the error chain.
    #[error("{}: cannot read the model file: {cause}", .path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: not a valid safetensors file ({reason}); is it corrupted or truncated? Save a model with `cargo run -p {program} -- --save FILE`", .path.display())]
    Corrupted {
        path: PathBuf,
        reason: String,
        program: &'static str,
    },
    #[error("{}: this is a {} model, not a {}; evaluate it with `cargo run -p {found} -- evaluate --model FILE`", .path.display(), describe(.found), describe(.program))]
    OtherProgram {
        path: PathBuf,
        found: String,
        program: &'static str,
    },
    #[error("{}: {what}; expected a model saved by {program} `--save`", .path.display())]
    Metadata {
        path: PathBuf,
        what: String,
        program: &'static str,
    },
    #[error("{}: the sizes in the metadata do not fit together: {what}", .path.display())]
    Sizes { path: PathBuf, what: String },
    #[error("{}: tensor `{name}` is missing; the architecture {architecture} needs it", .path.display())]
    MissingTensor {
        path: PathBuf,
        name: String,
        architecture: String,
    },
    #[error("{}: tensor `{name}` has shape {found:?}, expected {expected:?} for the architecture {architecture}", .path.display())]
    WrongShape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
        architecture: String,
    },
    #[error("{}: tensor `{name}` is {found:?}, expected F32", .path.display())]
    WrongDtype {
        path: PathBuf,
        name: String,
        found: Dtype,
    },
    #[error("{}: tensor `{name}` holds a NaN or infinite number", .path.display())]
    NotFinite { path: PathBuf, name: String },
    #[error("{}: the model reads {found}; MNIST needs {needed}", .path.display())]
    NotMnist {
        path: PathBuf,
        found: String,
        needed: String,
    },
}

/// The course's programs that write model files, in words.
fn describe(format: &str) -> String {
    match format {
        "ch6-mlp" => "stage 4 MLP (ch6-mlp)".into(),
        "ch6-regularization" => "stage 5 regularised network (ch6-regularization)".into(),
        "ch7-cnn" => "stage 6 convolutional network (ch7-cnn)".into(),
        other => format!("`{other}`"),
    }
}

/// One tensor of a model file: its name, shape, and numbers in row-major
/// order of that shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub values: Vec<f32>,
}

impl Tensor {
    /// A matrix `rows × cols`, saved row by row.
    pub fn matrix(name: impl Into<String>, m: &DMatrix<f32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape: vec![m.nrows(), m.ncols()],
            values: m.transpose().as_slice().to_vec(),
        }
    }

    /// A row `1 × n` (a bias), saved as a vector `[n]`.
    pub fn vector(name: impl Into<String>, m: &DMatrix<f32>) -> Tensor {
        Tensor {
            name: name.into(),
            shape: vec![m.len()],
            values: m.as_slice().to_vec(),
        }
    }
}

// ANCHOR: save
/// The network's tensors and metadata as the bytes of a safetensors file,
/// its `format` first in the metadata. The same network always gives the
/// same bytes. (Writing them to disk, safely, is the command line's job:
/// see `train_cli::write_bytes`.)
pub fn to_bytes<N: Trainable<f32>>(net: &N) -> Vec<u8> {
    let (metadata, tensors) = net.model();
    let mut all: BTreeMap<&str, String> = metadata.into_iter().collect();
    all.insert("format", N::FORMAT.to_string());
    let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .into_iter()
        .map(|t| {
            let bytes = t.values.iter().flat_map(|v| v.to_le_bytes()).collect();
            (t.name, t.shape, bytes)
        })
        .collect();
    safetensors_bytes(&all, &tensors)
}
// ANCHOR_END: save

// ANCHOR: safetensors_bytes
/// A safetensors file, byte by byte: the header's length (8 bytes, little
/// endian), the JSON header (the metadata under `__metadata__`, then each
/// tensor's dtype, shape and byte range in the data; keys in sorted order,
/// padded with spaces to a multiple of 8), then the tensors' bytes one after
/// the other. Written here rather than by `safetensors::serialize`, whose
/// metadata is a `HashMap` printed in a different order on every run.
pub fn safetensors_bytes<N: AsRef<str>>(
    metadata: &impl serde::Serialize,
    tensors: &[(N, Vec<usize>, Vec<u8>)],
) -> Vec<u8> {
    let mut header = BTreeMap::new();
    header.insert("__metadata__".to_string(), serde_json::json!(metadata));
    let mut offset = 0;
    for (name, shape, bytes) in tensors {
        let range = [offset, offset + bytes.len()];
        let info = serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": range});
        header.insert(name.as_ref().to_string(), info);
        offset += bytes.len();
    }
    let mut json = serde_json::to_string(&header).expect("strings and numbers serialise");
    while json.len() % 8 != 0 {
        json.push(' ');
    }
    let mut out = (json.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(json.as_bytes());
    for (_, _, bytes) in tensors {
        out.extend_from_slice(bytes);
    }
    out
}
// ANCHOR_END: safetensors_bytes

/// The largest model file [`load`] reads: 1 GiB, some 250 million weights.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// True when `path` looks like a model network `N`'s program wrote (a
/// safetensors header whose metadata names its format), so that replacing
/// it is safe.
pub fn is_model<N: Trainable<f32>>(path: &Path) -> bool {
    format_of(path).is_some_and(|f| f == N::FORMAT)
}

/// The `format` in the metadata of the safetensors file at `path`, if it is
/// one: which program of the course wrote it.
pub fn format_of(path: &Path) -> Option<String> {
    let bytes = read_bounded(path).ok()?;
    let (_, header) = SafeTensors::read_metadata(&bytes).ok()?;
    header.metadata().as_ref()?.get("format").cloned()
}

/// The bytes of a model file: a regular file (not a pipe or a device, which
/// could block or never end) of at most [`MAX_FILE_BYTES`].
pub fn read_bounded(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other(
            "not a regular file (a folder, a pipe or a device)",
        ));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(std::io::Error::other(format!(
            "{} bytes, more than the {MAX_FILE_BYTES} a model of this course can have",
            meta.len()
        )));
    }
    std::fs::read(path)
}

// ANCHOR: load
/// Reads a network of type `N` saved by [`to_bytes`]: the file must be a
/// valid safetensors file whose `format` is `N`'s, and `N` checks the rest.
/// Its products may use `threads` threads.
pub fn load<N: Trainable<f32>>(path: &Path, threads: usize) -> Result<N, ModelError> {
    let file = ModelFile::read(path, N::FORMAT)?;
    N::from_model(&file, threads)
}
// ANCHOR_END: load

/// A safetensors file read and checked to be of one program's format: its
/// metadata and tensors, each read with a check that names the file.
pub struct ModelFile {
    path: PathBuf,
    program: &'static str,
    metadata: HashMap<String, String>,
    bytes: Vec<u8>,
}

impl ModelFile {
    /// Reads `path` and checks that its metadata's `format` is `program`.
    pub fn read(path: &Path, program: &'static str) -> Result<ModelFile, ModelError> {
        let bytes = read_bounded(path).map_err(|cause| ModelError::Read {
            path: path.to_path_buf(),
            cause,
        })?;
        let corrupted = |e: safetensors::SafeTensorError| ModelError::Corrupted {
            path: path.to_path_buf(),
            reason: e.to_string(),
            program,
        };
        SafeTensors::deserialize(&bytes).map_err(corrupted)?;
        let (_, header) = SafeTensors::read_metadata(&bytes).map_err(corrupted)?;
        let file = ModelFile {
            path: path.to_path_buf(),
            program,
            metadata: header.metadata().clone().unwrap_or_default(),
            bytes,
        };
        if header.metadata().is_none() {
            return Err(file.invalid("no metadata in the header"));
        }
        match file.metadata.get("format").map(String::as_str) {
            Some(f) if f == program => Ok(file),
            Some(f @ ("ch6-mlp" | "ch6-regularization" | "ch7-cnn")) => {
                Err(ModelError::OtherProgram {
                    path: path.to_path_buf(),
                    found: f.to_string(),
                    program,
                })
            }
            Some(other) => {
                Err(file.invalid(format!("metadata format is `{other}`, not `{program}`")))
            }
            None => Err(file.invalid("no `format` in the metadata")),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A [`ModelError::Metadata`] for this file: `what` is wrong.
    pub fn invalid(&self, what: impl Into<String>) -> ModelError {
        ModelError::Metadata {
            path: self.path.clone(),
            what: what.into(),
            program: self.program,
        }
    }

    /// A [`ModelError::Sizes`] for this file: the sizes do not fit, as `what` says.
    pub fn sizes_error(&self, what: impl ToString) -> ModelError {
        ModelError::Sizes {
            path: self.path.clone(),
            what: what.to_string(),
        }
    }

    /// A [`ModelError::NotMnist`] for this file.
    pub fn not_mnist(&self, found: String, needed: &str) -> ModelError {
        ModelError::NotMnist {
            path: self.path.clone(),
            found,
            needed: needed.into(),
        }
    }

    /// The metadata's `key`.
    pub fn text(&self, key: &str) -> Result<&str, ModelError> {
        self.metadata
            .get(key)
            .map(String::as_str)
            .ok_or_else(|| self.invalid(format!("no `{key}` in the metadata")))
    }

    /// The metadata's `key` as comma-separated whole numbers (`784,100,10`),
    /// `count` of them when given.
    pub fn numbers(&self, key: &str, count: Option<usize>) -> Result<Vec<usize>, ModelError> {
        let text = self.text(key)?;
        let shown = quoted(text);
        let values: Vec<usize> = text
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                self.invalid(format!(
                    "metadata {key} `{shown}` is not a list of whole numbers such as 784,100,10"
                ))
            })?;
        if let Some(n) = values.iter().find(|&&n| n > MAX_NUMBER) {
            return Err(self.invalid(format!(
                "metadata {key} `{shown}`: {n} is past any size of this course's networks (at most {MAX_NUMBER})"
            )));
        }
        match count {
            Some(n) if values.len() != n => {
                Err(self.invalid(format!("metadata {key} `{shown}` should have {n} numbers")))
            }
            _ => Ok(values),
        }
    }

    /// The metadata's `key` as one whole number.
    pub fn number(&self, key: &str) -> Result<usize, ModelError> {
        Ok(self.numbers(key, Some(1))?[0])
    }

    /// Tensor `name`'s numbers in row-major order, checked to be F32, of
    /// `shape` (which `architecture`, in words, needs) and finite.
    pub fn tensor(
        &self,
        name: &str,
        shape: &[usize],
        architecture: &str,
    ) -> Result<Vec<f32>, ModelError> {
        let path = || self.path.clone();
        let file = SafeTensors::deserialize(&self.bytes).expect("checked when read");
        let view = file.tensor(name).map_err(|_| ModelError::MissingTensor {
            path: path(),
            name: name.into(),
            architecture: architecture.into(),
        })?;
        if view.dtype() != Dtype::F32 {
            return Err(ModelError::WrongDtype {
                path: path(),
                name: name.into(),
                found: view.dtype(),
            });
        }
        if view.shape() != shape {
            return Err(ModelError::WrongShape {
                path: path(),
                name: name.into(),
                found: view.shape().to_vec(),
                expected: shape.to_vec(),
                architecture: architecture.into(),
            });
        }
        let values: Vec<f32> = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        if values.iter().any(|v| !v.is_finite()) {
            return Err(ModelError::NotFinite {
                path: path(),
                name: name.into(),
            });
        }
        Ok(values)
    }

    /// Tensor `name` as a matrix `rows × cols` saved row by row ([`Tensor::matrix`]).
    pub fn matrix(
        &self,
        name: &str,
        rows: usize,
        cols: usize,
        architecture: &str,
    ) -> Result<DMatrix<f32>, ModelError> {
        let values = self.tensor(name, &[rows, cols], architecture)?;
        Ok(DMatrix::from_row_slice(rows, cols, &values))
    }

    /// Tensor `name`, a vector `[n]`, as a row `1 × n` ([`Tensor::vector`]).
    pub fn vector(
        &self,
        name: &str,
        n: usize,
        architecture: &str,
    ) -> Result<DMatrix<f32>, ModelError> {
        let values = self.tensor(name, &[n], architecture)?;
        Ok(DMatrix::from_row_slice(1, n, &values))
    }
}

/// The largest number a model file's metadata may hold (a layer's size, a
/// stride, a padding): far past any network of the course, and small enough
/// that the sizes computed from a few of them cannot overflow.
pub const MAX_NUMBER: usize = 1 << 24;

/// `text` as an error quotes it: at most 60 characters, then `…`.
fn quoted(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A model file's tensors, as [`rewrite`] hands them out: name, element
/// type, shape and raw little-endian bytes.
pub type RawTensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;

/// Rewrites the safetensors file at `path` with `edit` applied to its
/// tensors and metadata: how the stages' tests craft damaged files (a
/// tensor missing, a size that lies) to check that [`load`] refuses them.
pub fn rewrite(
    path: &Path,
    edit: impl FnOnce(&mut RawTensors, &mut HashMap<String, String>),
) -> Result<(), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let file = SafeTensors::deserialize(&bytes)?;
    let (_, header) = SafeTensors::read_metadata(&bytes)?;
    let mut metadata = header.metadata().clone().unwrap_or_default();
    let tensors = file.tensors().into_iter();
    let mut tensors: RawTensors = tensors
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut tensors, &mut metadata);
    let views = tensors.iter().map(|(n, d, s, b)| {
        safetensors::tensor::TensorView::new(*d, s.clone(), b).map(|v| (n.clone(), v))
    });
    let views = views.collect::<Result<Vec<_>, _>>()?;
    std::fs::write(path, safetensors::serialize(views, Some(metadata))?)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use crate::mlp::Mlp;

    fn rewrite_file(path: &Path, edit: impl FnOnce(&mut RawTensors, &mut HashMap<String, String>)) {
        rewrite(path, edit).unwrap();
    }

    fn saved(dir: &Path, sizes: &[usize]) -> (PathBuf, Mlp<f32>) {
        let path = dir.join("model.safetensors");
        let mut mlp = Mlp::<f32>::new(sizes, Init::He, 11, 1);
        // Distinct biases, so a mix-up of layers or of row/column order shows.
        mlp.for_each_param(&mut |p, _| {
            if p.nrows() == 1 {
                p.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = i as f32 * 0.5);
            }
        });
        std::fs::write(&path, to_bytes(&mlp)).unwrap();
        (path, mlp)
    }

    fn load_error(path: &Path) -> String {
        match load::<Mlp<f32>>(path, 1) {
            Ok(_) => panic!("loading {} should fail", path.display()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_saved_network_loads_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let (path, original) = saved(dir.path(), &[784, 16, 8, 10]);
        let loaded: Mlp<f32> = load(&path, 1).unwrap();
        assert_eq!(loaded.sizes, vec![784, 16, 8, 10]);
        assert_eq!(loaded.parameters(), original.parameters());
        // Tensors are named and shaped as documented, W as n_in × n_out row-major.
        let bytes = std::fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let w = file.tensor("dense1.weight").unwrap();
        assert_eq!(w.shape(), &[16, 8]);
        let second = f32::from_le_bytes(w.data()[4..8].try_into().unwrap());
        assert_eq!(second, original.parameters()[1].0[(0, 1)]);
        assert_eq!(file.tensor("dense2.bias").unwrap().shape(), &[10]);
    }

    #[test]
    fn the_same_network_gives_the_same_bytes_and_the_file_is_recognised() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mlp) = saved(dir.path(), &[784, 7, 10]);
        let bytes = std::fs::read(&path).unwrap();
        // Built again from scratch, each time with a freshly seeded HashMap inside
        // the safetensors crate's reader: the bytes never change.
        for _ in 0..5 {
            assert_eq!(to_bytes(&mlp), bytes);
        }
        assert!(is_model::<Mlp<f32>>(&path));
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "my notes").unwrap();
        assert!(!is_model::<Mlp<f32>>(&other));
        assert!(!is_model::<Mlp<f32>>(dir.path()));
        // safetensors' own reader agrees on every tensor.
        let file = SafeTensors::deserialize(&bytes).unwrap();
        assert_eq!(file.tensor("dense0.weight").unwrap().shape(), &[784, 7]);
        assert_eq!(file.tensor("dense1.bias").unwrap().shape(), &[10]);
    }

    #[cfg(unix)]
    #[test]
    fn a_pipe_or_a_device_is_not_read_as_a_model() {
        let msg = load_error(Path::new("/dev/zero"));
        assert!(msg.contains("not a regular file"), "{msg}");
    }

    #[test]
    fn a_corrupted_or_truncated_file_is_refused_with_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        let msg = load_error(&path);
        assert!(
            msg.contains("model.safetensors") && msg.contains("not a valid safetensors file"),
            "{msg}"
        );
        std::fs::write(&path, b"this is not a model").unwrap();
        assert!(load_error(&path).contains("not a valid safetensors file"));
        let missing = dir.path().join("nothing.safetensors");
        assert!(load_error(&missing).contains("cannot read"));
    }

    #[test]
    fn a_tensor_of_the_wrong_shape_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        // Claim a hidden layer of 5: dense0.weight is 784 × 4, not 784 × 5.
        rewrite_file(&path, |_, meta| {
            meta.insert("sizes".into(), "784,5,10".into());
        });
        let msg = load_error(&path);
        assert!(
            msg.contains("dense0.weight") && msg.contains("[784, 4]") && msg.contains("[784, 5]"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_tensor_or_bad_metadata_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite_file(&path, |tensors, _| tensors.retain(|t| t.0 != "dense1.bias"));
        assert!(load_error(&path).contains("`dense1.bias` is missing"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite_file(&path, |_, meta| {
            meta.insert("sizes".into(), "784,four,10".into());
        });
        assert!(load_error(&path).contains("not a list of whole numbers"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite_file(&path, |_, meta| {
            meta.remove("format");
        });
        assert!(load_error(&path).contains("no `format`"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite_file(&path, |tensors, _| {
            let w = tensors.iter_mut().find(|t| t.0 == "dense0.weight").unwrap();
            w.3[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        });
        assert!(load_error(&path).contains("NaN"));
    }

    #[test]
    fn metadata_past_any_network_is_refused_in_a_short_message() {
        let dir = tempfile::tempdir().unwrap();
        let many = vec!["100"; 100_001].join(",");
        let huge = format!("784,{},10", u64::MAX);
        for sizes in [many.as_str(), huge.as_str(), "784,16777217,10"] {
            let (path, _) = saved(dir.path(), &[784, 4, 10]);
            rewrite_file(&path, |_, meta| {
                meta.insert("sizes".into(), sizes.into());
            });
            let msg = load_error(&path);
            assert!(
                msg.contains("model.safetensors") && msg.len() < 400,
                "{msg}"
            );
        }
    }

    #[test]
    fn a_network_that_is_not_for_mnist_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("xor.safetensors");
        let mlp = Mlp::<f32>::new(&[2, 3, 1], Init::He, 1, 1);
        std::fs::write(&path, to_bytes(&mlp)).unwrap();
        assert!(load_error(&path).contains("MNIST needs 784 and 10"));
    }
}
