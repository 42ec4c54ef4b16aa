//! # Saving and loading a trained SimpleConvNet (safetensors)
//!
//! Stage 6 of the course (chapter 7), as stage 4's `model_file`: one
//! [safetensors](https://huggingface.co/docs/safetensors) file, all F32,
//! row-major, with the sizes in the metadata.
//!
//! Tensors: `conv.weight` of shape `[FN, C, FH, FW]` (PyTorch's layout for
//! a convolution's filters; it is, number for number, the column-major
//! storage of this crate's `W: (C·FH·FW) × FN`), `conv.bias` `[FN]`,
//! `affine0.weight` `[4320, 100]` (the `W` of `Y = X·W + b`), `affine0.bias`,
//! `affine1.weight` `[100, 10]`, `affine1.bias`. Metadata: `format =
//! ch7-cnn`, `input = 1,28,28`, `conv = 30,1,5,5` (the 4-D shape of the
//! filters), `stride`, `pad`, `pool`, `hidden`, `classes`. Loading checks all
//! of it and says what is wrong, naming the file; a stage 4 MLP file is
//! recognised as such.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ch6_mlp::dense::Kernel;
use nalgebra::DMatrix;
use safetensors::{Dtype, SafeTensors};

use crate::layout::Shape;
use crate::net::{Architecture, Parameters, SimpleConvNet};

/// Everything that can be wrong with a model file.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("{}: cannot read the model file: {cause}", .path.display())]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: cannot write the model file: {cause}", .path.display())]
    Write {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("{}: not a valid safetensors file ({reason}); is it corrupted or truncated? Save a model with `ch7-cnn --save FILE`", .path.display())]
    Corrupted { path: PathBuf, reason: String },
    #[error("{}: this is a stage 4 MLP (ch6-mlp) model, not a convolutional network; evaluate it with `cargo run -p ch6-mlp -- evaluate --model FILE`, or save a CNN with `ch7-cnn --save FILE`", .path.display())]
    Mlp { path: PathBuf },
    #[error("{}: {what}; expected a model saved by ch7-cnn `--save`", .path.display())]
    Metadata { path: PathBuf, what: String },
    #[error("{}: the sizes in the metadata do not fit together: {cause}", .path.display())]
    Shape {
        path: PathBuf,
        cause: crate::layout::ShapeError,
    },
    #[error("{}: tensor `{name}` is missing", .path.display())]
    MissingTensor { path: PathBuf, name: String },
    #[error("{}: tensor `{name}` has shape {found:?}, expected {expected:?} for {architecture}", .path.display())]
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
    #[error("{}: the model reads {input} images into {classes} classes; MNIST needs 1×28×28 and 10", .path.display())]
    NotMnist {
        path: PathBuf,
        input: Shape,
        classes: usize,
    },
}

const NAMES: [[&str; 2]; 3] = [
    ["conv.weight", "conv.bias"],
    ["affine0.weight", "affine0.bias"],
    ["affine1.weight", "affine1.bias"],
];

/// The shapes of the six tensors, in the order of [`NAMES`].
fn tensor_shapes(a: &Architecture) -> Result<[[Vec<usize>; 2]; 3], crate::layout::ShapeError> {
    let flat = a.pooled()?.len();
    let k = a.filter_size;
    Ok([
        [vec![a.filters, a.input.channels, k, k], vec![a.filters]],
        [vec![flat, a.hidden], vec![a.hidden]],
        [vec![a.hidden, a.classes], vec![a.classes]],
    ])
}

/// `m`'s numbers as little-endian f32 bytes, row-major (`transpose`) or in
/// storage order (the filters: `[FN, C, FH, FW]` row-major is `W`'s column-major storage).
fn bytes(m: &DMatrix<f32>, row_major: bool) -> Vec<u8> {
    let values: Vec<f32> = if row_major {
        m.transpose().as_slice().to_vec()
    } else {
        m.as_slice().to_vec()
    };
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn list(values: &[usize]) -> String {
    values
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// The metadata of a network of `a`.
fn metadata(a: &Architecture) -> BTreeMap<String, String> {
    let i = a.input;
    let k = a.filter_size;
    [
        ("format", "ch7-cnn".to_string()),
        ("input", list(&[i.channels, i.height, i.width])),
        ("conv", list(&[a.filters, i.channels, k, k])),
        ("stride", a.stride.to_string()),
        ("pad", a.pad.to_string()),
        ("pool", a.pool.to_string()),
        ("hidden", a.hidden.to_string()),
        ("classes", a.classes.to_string()),
        ("activation", "relu".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The safetensors bytes of `net`: its six tensors and its sizes.
pub fn to_bytes(net: &SimpleConvNet<f32>, path: &Path) -> Result<Vec<u8>, ModelError> {
    let a = net.architecture;
    let shapes = tensor_shapes(&a).map_err(|cause| ModelError::Shape {
        path: path.to_path_buf(),
        cause,
    })?;
    let params = net.parameters();
    let mut tensors = Vec::new();
    for (layer, (w, b)) in params.iter().enumerate() {
        let is_conv = layer == 0;
        tensors.push((
            NAMES[layer][0],
            shapes[layer][0].clone(),
            bytes(w, !is_conv),
        ));
        tensors.push((NAMES[layer][1], shapes[layer][1].clone(), bytes(b, true)));
    }
    // Stage 4's writer: sorted keys, so the same network gives the same bytes.
    Ok(ch6_mlp::model_file::safetensors_bytes(
        &metadata(&a),
        &tensors,
    ))
}

/// True when `path` is a model this stage wrote (`format: ch7-cnn`), so
/// that `--save` may replace it.
pub fn is_model(path: &Path) -> bool {
    ch6_mlp::model_file::format_of(path).is_some_and(|f| f == "ch7-cnn")
}

// ANCHOR: load
/// Reads a network saved with `--save`, checking its metadata and every
/// tensor against it. Its products may use `threads` threads.
pub fn load(path: &Path, threads: usize) -> Result<SimpleConvNet<f32>, ModelError> {
    let path_buf = || path.to_path_buf();
    let bytes = ch6_mlp::model_file::read_bounded(path).map_err(|cause| ModelError::Read {
        path: path_buf(),
        cause,
    })?;
    let corrupted = |e: safetensors::SafeTensorError| ModelError::Corrupted {
        path: path_buf(),
        reason: e.to_string(),
    };
    let file = SafeTensors::deserialize(&bytes).map_err(corrupted)?;
    let (_, header) = SafeTensors::read_metadata(&bytes).map_err(corrupted)?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let a = architecture(path, &metadata)?;
    if a.input != Shape::MNIST || a.classes != mnist::CLASSES {
        return Err(ModelError::NotMnist {
            path: path_buf(),
            input: a.input,
            classes: a.classes,
        });
    }
    let shapes = tensor_shapes(&a).map_err(|cause| ModelError::Shape {
        path: path_buf(),
        cause,
    })?;
    let read = |layer: usize, which: usize| -> Result<DMatrix<f32>, ModelError> {
        let (name, shape) = (NAMES[layer][which], &shapes[layer][which]);
        let values = read_tensor(path, &file, name, shape, &a)?;
        Ok(match (layer, which) {
            // the filters: [FN, C, FH, FW] row-major is W's column-major storage
            (0, 0) => DMatrix::from_vec(shape[1..].iter().product(), shape[0], values),
            (_, 0) => DMatrix::from_row_slice(shape[0], shape[1], &values),
            _ => DMatrix::from_row_slice(1, shape[0], &values),
        })
    };
    let params: Parameters<f32> = [
        (read(0, 0)?, read(0, 1)?),
        (read(1, 0)?, read(1, 1)?),
        (read(2, 0)?, read(2, 1)?),
    ];
    SimpleConvNet::from_parameters(a, params, Kernel::Gemm { threads }).map_err(|cause| {
        ModelError::Shape {
            path: path_buf(),
            cause,
        }
    })
}
// ANCHOR_END: load

/// The architecture the metadata describes, checked.
fn architecture(
    path: &Path,
    metadata: &BTreeMap<String, String>,
) -> Result<Architecture, ModelError> {
    let bad = |what: String| ModelError::Metadata {
        path: path.to_path_buf(),
        what,
    };
    match metadata.get("format").map(String::as_str) {
        Some("ch7-cnn") => {}
        Some("ch6-mlp") => {
            return Err(ModelError::Mlp {
                path: path.to_path_buf(),
            });
        }
        Some(other) => return Err(bad(format!("metadata format is `{other}`, not `ch7-cnn`"))),
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
    let numbers = |key: &str, count: usize| -> Result<Vec<usize>, ModelError> {
        let text = metadata
            .get(key)
            .ok_or_else(|| bad(format!("no `{key}` in the metadata")))?;
        let values: Vec<usize> = text
            .split(',')
            .map(|s| s.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .map_err(|_| {
                bad(format!(
                    "metadata {key} `{text}` is not a list of whole numbers"
                ))
            })?;
        if values.len() != count {
            return Err(bad(format!(
                "metadata {key} `{text}` should have {count} numbers"
            )));
        }
        Ok(values)
    };
    let (input, conv) = (numbers("input", 3)?, numbers("conv", 4)?);
    if conv[1] != input[0] || conv[2] != conv[3] {
        return Err(bad(format!(
            "metadata conv `{}` must be filters,channels,size,size with the input's {} channels",
            list(&conv),
            input[0]
        )));
    }
    if input.contains(&0) || conv.contains(&0) {
        return Err(bad("a size of 0 in the metadata".into()));
    }
    let one = |key: &str| numbers(key, 1).map(|v| v[0]);
    Ok(Architecture {
        input: Shape::new(input[0], input[1], input[2]),
        filters: conv[0],
        filter_size: conv[2],
        stride: one("stride")?,
        pad: one("pad")?,
        pool: one("pool")?,
        hidden: one("hidden")?,
        classes: one("classes")?,
    })
}

/// The numbers of tensor `name`, checked for dtype, shape and finiteness.
fn read_tensor(
    path: &Path,
    file: &SafeTensors<'_>,
    name: &str,
    shape: &[usize],
    a: &Architecture,
) -> Result<Vec<f32>, ModelError> {
    let path_buf = || path.to_path_buf();
    let view = file.tensor(name).map_err(|_| ModelError::MissingTensor {
        path: path_buf(),
        name: name.into(),
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
            architecture: a.describe(),
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
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch6_mlp::init::Init;
    use safetensors::tensor::TensorView;
    use std::collections::HashMap;

    fn net() -> SimpleConvNet<f32> {
        let mut net = SimpleConvNet::<f32>::new(Architecture::SIMPLE, Init::He, 11, 1).unwrap();
        net.for_each_param(&mut |p, _| {
            if p.nrows() == 1 {
                p.iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = i as f32 * 0.5);
            }
        });
        net
    }

    fn saved(dir: &Path) -> (PathBuf, SimpleConvNet<f32>) {
        let path = dir.join("cnn.safetensors");
        let net = net();
        std::fs::write(&path, to_bytes(&net, &path).unwrap()).unwrap();
        (path, net)
    }

    fn load_error(path: &Path) -> String {
        match load(path, 1) {
            Ok(_) => panic!("loading {} should fail", path.display()),
            Err(e) => e.to_string(),
        }
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

    #[test]
    fn a_saved_network_loads_back_identical_with_4d_filters() {
        let dir = tempfile::tempdir().unwrap();
        let (path, original) = saved(dir.path());
        let loaded = load(&path, 1).unwrap();
        assert_eq!(loaded.architecture, Architecture::SIMPLE);
        assert_eq!(loaded.parameters(), original.parameters());
        let bytes = std::fs::read(&path).unwrap();
        let file = SafeTensors::deserialize(&bytes).unwrap();
        let w = file.tensor("conv.weight").unwrap();
        assert_eq!(w.shape(), &[30, 1, 5, 5]);
        // [f, c, i, j] row-major: entry [1, 0, 0, 2] is filter 1's pixel (0, 2).
        let at = |k: usize| f32::from_le_bytes(w.data()[4 * k..4 * k + 4].try_into().unwrap());
        assert_eq!(at(25 + 2), original.conv.filter(1)[0][(0, 2)]);
        let a = file.tensor("affine0.weight").unwrap();
        assert_eq!(a.shape(), &[4320, 100]);
        let (_, header) = SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["conv"], "30,1,5,5");
    }

    #[test]
    fn an_mlp_file_is_named_as_such() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mlp.safetensors");
        let mlp = ch6_mlp::Mlp::<f32>::new(&[784, 8, 10], Init::He, 1, 1);
        std::fs::write(&path, ch6_mlp::model_file::to_bytes(&mlp)).unwrap();
        let msg = load_error(&path);
        assert!(
            msg.contains("mlp.safetensors") && msg.contains("MLP (ch6-mlp)"),
            "{msg}"
        );
    }

    #[test]
    fn corrupted_files_wrong_shapes_and_bad_metadata_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (path, _) = saved(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
        assert!(load_error(&path).contains("not a valid safetensors file"));
        assert!(load_error(&dir.path().join("none.safetensors")).contains("cannot read"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("conv".into(), "20,1,5,5".into());
        });
        let msg = load_error(&path);
        assert!(
            msg.contains("conv.weight")
                && msg.contains("[30, 1, 5, 5]")
                && msg.contains("[20, 1, 5, 5]"),
            "{msg}"
        );

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("stride".into(), "0".into());
        });
        assert!(load_error(&path).contains("stride 0"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |_, meta| {
            meta.insert("input".into(), "1,28".into());
        });
        assert!(load_error(&path).contains("should have 3 numbers"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |tensors, _| {
            tensors.retain(|t| t.0 != "affine1.bias")
        });
        assert!(load_error(&path).contains("`affine1.bias` is missing"));

        let (path, _) = saved(dir.path());
        rewrite(&path, |tensors, _| {
            let w = tensors.iter_mut().find(|t| t.0 == "conv.weight").unwrap();
            w.3[0..4].copy_from_slice(&f32::NAN.to_le_bytes());
        });
        assert!(load_error(&path).contains("NaN"));
    }
}
