//! # Saving and loading a trained network (safetensors)
//!
//! Stage 4 of the course (chapter 6). A trained network is its weights and
//! biases plus the layer sizes they belong to. They go into a
//! [safetensors](https://huggingface.co/docs/safetensors) file: an 8-byte
//! header length, a JSON header naming each tensor with its dtype, shape and
//! byte range, then the raw little-endian numbers. Other tools (PyTorch,
//! numpy) can read it.
//!
//! Layout: tensors `dense0.weight` (`n_in × n_out`, row-major, the `W` of
//! `Y = X·W + b`), `dense0.bias` (`n_out`), `dense1.weight`, …, all F32; the
//! metadata holds `format = ch6-mlp`, `sizes = 784,100,200,10` and
//! `activation = relu`. Loading checks every one of these and says what is
//! wrong, naming the file.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use nalgebra::DMatrix;
use safetensors::{Dtype, SafeTensors};

use crate::mlp::Mlp;

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
    #[error("{}: not a valid safetensors file ({reason}); is it corrupted or truncated? Save a model with `--save FILE`", .path.display())]
    Corrupted { path: PathBuf, reason: String },
    #[error("{}: {what}; expected a model saved by ch6-mlp `--save`", .path.display())]
    Metadata { path: PathBuf, what: String },
    #[error("{}: tensor `{name}` is missing; the architecture {sizes} needs it", .path.display())]
    MissingTensor {
        path: PathBuf,
        name: String,
        sizes: String,
    },
    #[error("{}: tensor `{name}` has shape {found:?}, expected {expected:?} for the architecture {sizes}", .path.display())]
    WrongShape {
        path: PathBuf,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
        sizes: String,
    },
    #[error("{}: tensor `{name}` is {found:?}, expected F32", .path.display())]
    WrongDtype {
        path: PathBuf,
        name: String,
        found: Dtype,
    },
    #[error("{}: tensor `{name}` holds a NaN or infinite number", .path.display())]
    NotFinite { path: PathBuf, name: String },
    #[error("{}: the model reads {inputs} inputs and gives {outputs} classes; MNIST needs 784 and 10", .path.display())]
    NotMnist {
        path: PathBuf,
        inputs: usize,
        outputs: usize,
    },
}

fn weight_name(layer: usize) -> String {
    format!("dense{layer}.weight")
}

fn bias_name(layer: usize) -> String {
    format!("dense{layer}.bias")
}

fn sizes_text(sizes: &[usize]) -> String {
    sizes
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join("-")
}

/// `m` as row-major little-endian f32 bytes.
fn row_major_bytes(m: &DMatrix<f32>) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(4 * m.len());
    for r in 0..m.nrows() {
        for c in 0..m.ncols() {
            bytes.extend_from_slice(&m[(r, c)].to_le_bytes());
        }
    }
    bytes
}

// ANCHOR: save
/// The network's weights, biases and sizes as the bytes of a safetensors
/// file. The same network always gives the same bytes. (Writing them to disk,
/// safely, is the command line's job: see `train_cli::write_bytes`.)
pub fn to_bytes(mlp: &Mlp<f32>) -> Vec<u8> {
    let mut tensors = Vec::new();
    for (k, (w, b)) in mlp.parameters().iter().enumerate() {
        tensors.push((
            weight_name(k),
            vec![w.nrows(), w.ncols()],
            row_major_bytes(w),
        ));
        tensors.push((bias_name(k), vec![b.ncols()], row_major_bytes(b)));
    }
    let metadata = BTreeMap::from([
        ("format", FORMAT.to_string()),
        (
            "sizes",
            mlp.sizes
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("activation", "relu".to_string()),
    ]);
    safetensors_bytes(&metadata, &tensors)
}
// ANCHOR_END: save

/// The `format` of the metadata: which program wrote the file.
const FORMAT: &str = "ch6-mlp";

/// The largest model file [`load`] reads: 1 GiB, some 250 million weights.
pub const MAX_FILE_BYTES: u64 = 1 << 30;

// ANCHOR: safetensors_bytes
/// A safetensors file, byte by byte: the header's length (8 bytes, little
/// endian), the JSON header (the metadata under `__metadata__`, then each
/// tensor's dtype, shape and byte range in the data; keys in sorted order,
/// padded with spaces to a multiple of 8), then the tensors' bytes one after
/// the other. Written here rather than by `safetensors::serialize`, whose
/// metadata is a `HashMap` printed in a different order on every run.
///
/// Stage 6 saves its convolutional network with it too: `metadata` is any
/// map of strings, `tensors` are `(name, shape, little-endian f32 bytes)`.
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

/// True when `path` looks like a model this stage wrote (a safetensors header
/// whose metadata says `format: ch6-mlp`), so that replacing it is safe.
pub fn is_model(path: &Path) -> bool {
    format_of(path).is_some_and(|f| f == FORMAT)
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
/// Reads a network saved by [`to_bytes`], checking every tensor against the
/// sizes in the metadata. Its products may use `threads` threads.
pub fn load(path: &Path, threads: usize) -> Result<Mlp<f32>, ModelError> {
    let bytes = read_bounded(path).map_err(|cause| ModelError::Read {
        path: path.to_path_buf(),
        cause,
    })?;
    let file = SafeTensors::deserialize(&bytes).map_err(|e| ModelError::Corrupted {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(|e| ModelError::Corrupted {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let sizes = read_sizes(path, header.metadata().as_ref())?;
    let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
    if inputs != mnist::IMAGE_SIZE || outputs != mnist::CLASSES {
        return Err(ModelError::NotMnist {
            path: path.to_path_buf(),
            inputs,
            outputs,
        });
    }
    let mut params = Vec::new();
    for k in 0..sizes.len() - 1 {
        let w = read_tensor(
            path,
            &file,
            &weight_name(k),
            &[sizes[k], sizes[k + 1]],
            &sizes,
        )?;
        let b = read_tensor(path, &file, &bias_name(k), &[sizes[k + 1]], &sizes)?;
        params.push((w, b));
    }
    Ok(Mlp::from_parameters(
        &sizes,
        params,
        crate::dense::Kernel::Gemm { threads },
    ))
}
// ANCHOR_END: load

/// The layer sizes from the metadata, checked.
fn read_sizes(
    path: &Path,
    metadata: Option<&HashMap<String, String>>,
) -> Result<Vec<usize>, ModelError> {
    let bad = |what: String| ModelError::Metadata {
        path: path.to_path_buf(),
        what,
    };
    let metadata = metadata.ok_or_else(|| bad("no metadata in the header".into()))?;
    match metadata.get("format").map(String::as_str) {
        Some("ch6-mlp") => {}
        Some(other) => return Err(bad(format!("metadata format is `{other}`, not `ch6-mlp`"))),
        None => return Err(bad("no `format` in the metadata".into())),
    }
    match metadata.get("activation").map(String::as_str) {
        Some("relu") => {}
        other => {
            return Err(bad(format!(
                "activation {other:?} is not supported (only `relu`)"
            )));
        }
    }
    let text = metadata
        .get("sizes")
        .ok_or_else(|| bad("no `sizes` in the metadata".into()))?;
    let sizes: Vec<usize> = text
        .split(',')
        .map(|s| s.trim().parse::<usize>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            bad(format!(
                "metadata sizes `{text}` is not a list of whole numbers such as 784,100,10"
            ))
        })?;
    if sizes.len() < 2 || sizes.contains(&0) {
        return Err(bad(format!(
            "metadata sizes `{text}` needs at least two sizes, none of them 0"
        )));
    }
    Ok(sizes)
}

/// Tensor `name` as an f32 matrix of `shape` (a vector `[n]` becomes `1 × n`).
fn read_tensor(
    path: &Path,
    file: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    sizes: &[usize],
) -> Result<DMatrix<f32>, ModelError> {
    let path_buf = || path.to_path_buf();
    let view = file.tensor(name).map_err(|_| ModelError::MissingTensor {
        path: path_buf(),
        name: name.into(),
        sizes: sizes_text(sizes),
    })?;
    if view.dtype() != Dtype::F32 {
        return Err(ModelError::WrongDtype {
            path: path_buf(),
            name: name.into(),
            found: view.dtype(),
        });
    }
    if view.shape() != shape {
        return Err(ModelError::WrongShape {
            path: path_buf(),
            name: name.into(),
            found: view.shape().to_vec(),
            expected: shape.to_vec(),
            sizes: sizes_text(sizes),
        });
    }
    let values: Vec<f32> = view
        .data()
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    if values.iter().any(|v| !v.is_finite()) {
        return Err(ModelError::NotFinite {
            path: path_buf(),
            name: name.into(),
        });
    }
    let (rows, cols) = if shape.len() == 2 {
        (shape[0], shape[1])
    } else {
        (1, shape[0])
    };
    Ok(DMatrix::from_row_slice(rows, cols, &values))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::init::Init;
    use safetensors::tensor::TensorView;

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

    /// Rewrites the file with `edit` applied to its tensors and metadata.
    fn rewrite(
        path: &Path,
        edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>, &mut HashMap<String, String>),
    ) {
        let bytes = std::fs::read(path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        let mut metadata = header.metadata().clone().unwrap();
        let mut tensors: Vec<_> = file
            .tensors()
            .into_iter()
            .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
            .collect();
        edit(&mut tensors, &mut metadata);
        let views: Vec<_> = tensors
            .iter()
            .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
            .collect();
        std::fs::write(path, safetensors::serialize(views, Some(metadata)).unwrap()).unwrap();
    }

    fn load_error(path: &Path) -> String {
        match load(path, 1) {
            Ok(_) => panic!("loading {} should fail", path.display()),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn a_saved_network_loads_back_identical() {
        let dir = tempfile::tempdir().unwrap();
        let (path, original) = saved(dir.path(), &[784, 16, 8, 10]);
        let loaded = load(&path, 1).unwrap();
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
        assert!(is_model(&path));
        let other = dir.path().join("notes.txt");
        std::fs::write(&other, "my notes").unwrap();
        assert!(!is_model(&other));
        assert!(!is_model(dir.path()));
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
        rewrite(&path, |_, meta| {
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
        rewrite(&path, |tensors, _| tensors.retain(|t| t.0 != "dense1.bias"));
        assert!(load_error(&path).contains("`dense1.bias` is missing"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite(&path, |_, meta| {
            meta.insert("sizes".into(), "784,four,10".into());
        });
        assert!(load_error(&path).contains("not a list of whole numbers"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite(&path, |_, meta| {
            meta.remove("format");
        });
        assert!(load_error(&path).contains("no `format`"));

        let (path, _) = saved(dir.path(), &[784, 4, 10]);
        rewrite(&path, |tensors, _| {
            let w = tensors.iter_mut().find(|t| t.0 == "dense0.weight").unwrap();
            w.3[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        });
        assert!(load_error(&path).contains("NaN"));
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
