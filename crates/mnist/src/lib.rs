//! # MNIST for the course
//!
//! The data every stage trains on: 60,000 training and 10,000 test images of
//! handwritten digits, 28×28 grey pixels each, with their labels 0–9, read from
//! the four gzip files in `data/mnist/` (see `data/README.md`).
//!
//! This crate knows nothing about networks. It hands the stages:
//! - [`Mnist::load`]: both sets, checked, in well under a second;
//! - [`Dataset::images`]: pixels scaled to `[0, 1]`, one image per matrix row
//!   (`n × 784`), ready for `x · W`;
//! - [`Dataset::one_hot`]: targets `t` as `n × 10` rows with a single 1;
//! - [`Dataset::first`] and [`Dataset::split_at`]: quick runs and the
//!   validation split;
//! - [`BatchSampler`]: deterministic random mini-batches from a seed;
//! - [`accuracy`] and [`predictions`]: the fraction of a set a classifier
//!   gets right, from its scores (what a training loop reports lives with
//!   the loops, in stage 3's `ch5_backprop::train`).
//!
//! Bad files give an [`MnistError`] naming the file and what was wrong.

pub mod idx;

use std::path::{Path, PathBuf};

use nalgebra::{DMatrix, RealField};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};

/// Pixels per image: 28 × 28.
pub const IMAGE_SIZE: usize = idx::SIDE * idx::SIDE;
/// Digits 0–9.
pub const CLASSES: usize = 10;
/// The environment variable that points at the data when `--data-dir` is not given.
pub const ENV_VAR: &str = "MNIST_DIR";
/// Training accuracy is measured on this many training images (the first
/// ones): an estimate of the accuracy on all 60,000 at a sixth of the cost,
/// so evaluations stay small next to the training they report on.
pub const TRAIN_EVAL_IMAGES: usize = 10_000;
/// [`Dataset::accuracy`] runs the network on this many images at a time.
pub const EVAL_BATCH: usize = 2_000;

/// Everything that can go wrong while finding and reading MNIST.
#[derive(Debug, thiserror::Error)]
pub enum MnistError {
    #[error(
        "MNIST data directory not found; looked in: {}.\n  Fix: run from inside the repository (it ships data/mnist/), \
         or pass --data-dir DIR, or set {ENV_VAR}=DIR, where DIR holds the four MNIST .gz files",
        .looked.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    DirNotFound { looked: Vec<PathBuf> },
    #[error(
        "{given}: not a directory; expected a directory holding the four MNIST .gz files{}",
        if .dir.exists() { "" } else { " (nothing is there)" }
    )]
    NotADirectory {
        /// The path as the learner gave it: `--data-dir DIR` or `$MNIST_DIR=DIR`.
        given: String,
        dir: PathBuf,
    },
    #[error(
        "{}: file not found.\n  Fix: the directory must hold train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
         t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (copies ship in the repository's data/mnist/)",
        .path.display()
    )]
    FileMissing { path: PathBuf },
    #[error("{}: cannot read: {source}", .path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: not a regular file (a folder, a pipe or a device); expected an MNIST .gz file", .path.display())]
    NotAFile { path: PathBuf },
    #[error(
        "{}: its header announces {announced} bytes of data, more than this loader reads ({} bytes); \
         is this an MNIST file?",
        .path.display(), idx::MAX_DECOMPRESSED
    )]
    TooLarge { path: PathBuf, announced: usize },
    #[error("{}: not a gzip file (expected the .gz file as distributed, starting with bytes 1f 8b)", .path.display())]
    NotGzip { path: PathBuf },
    #[error("{}: corrupt or truncated gzip data: {source}", .path.display())]
    CorruptGzip {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}: wrong magic number {found:#010x}, expected {expected:#010x} (is this the right IDX file?)", .path.display())]
    BadMagic {
        path: PathBuf,
        expected: u32,
        found: u32,
    },
    #[error("{}: truncated: its header needs {expected} bytes, the file has {found}", .path.display())]
    Truncated {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{}: {found} bytes, more bytes than its header describes ({expected})", .path.display())]
    TrailingBytes {
        path: PathBuf,
        expected: usize,
        found: usize,
    },
    #[error("{}: label {label} at index {index} is not a digit 0-9", .path.display())]
    BadLabel {
        path: PathBuf,
        index: usize,
        label: u8,
    },
    #[error("{}: images are {rows}×{cols}, expected 28×28", .path.display())]
    BadImageSize {
        path: PathBuf,
        rows: usize,
        cols: usize,
    },
    #[error(
        "{} holds {images} images but {} holds {labels} labels; they must match",
        .images_path.display(), .labels_path.display()
    )]
    CountMismatch {
        images_path: PathBuf,
        images: usize,
        labels_path: PathBuf,
        labels: usize,
    },
}

/// A set of labelled digits: `len()` images of 784 pixels (`u8`, row-major)
/// and one label each. Kept as bytes; converted to matrices on demand.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pixels: Vec<u8>,
    labels: Vec<u8>,
}

/// The training set (60,000) and the test set (10,000).
#[derive(Clone, Debug)]
pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

impl Mnist {
    /// Loads the four files from `dir` (the two sets on two threads).
    pub fn load(dir: &Path) -> Result<Mnist, MnistError> {
        let (train, test) = std::thread::scope(|s| {
            let train = s.spawn(|| idx::read_pair(dir, idx::TRAIN_FILES));
            let test = idx::read_pair(dir, idx::TEST_FILES);
            (train.join().expect("MNIST loader thread panicked"), test)
        });
        let (pixels, labels) = train?;
        let train = Dataset { pixels, labels };
        let (pixels, labels) = test?;
        let test = Dataset { pixels, labels };
        Ok(Mnist { train, test })
    }

    /// Finds the data (see [`find_data_dir`]) and loads it.
    pub fn load_from(data_dir: Option<&Path>) -> Result<Mnist, MnistError> {
        Mnist::load(&find_data_dir(data_dir)?)
    }
}

/// Where the data is: the `--data-dir` flag if given, else `$MNIST_DIR`, else
/// `data/mnist/` of the workspace, found by walking up from the current
/// directory (so any folder inside the repository works), and finally the
/// workspace this crate was built in.
pub fn find_data_dir(flag: Option<&Path>) -> Result<PathBuf, MnistError> {
    // An explicit choice is taken as given: if it is wrong, say so rather than
    // silently reading other data.
    if let Some(dir) = flag {
        return checked_dir(dir, format!("--data-dir {}", dir.display()));
    }
    if let Some(dir) = std::env::var_os(ENV_VAR) {
        let dir = PathBuf::from(dir);
        return checked_dir(&dir, format!("${ENV_VAR}={}", dir.display()));
    }
    let mut looked = Vec::new();
    let built_in = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/mnist");
    let cwd = std::env::current_dir().ok();
    let walk_up = cwd
        .iter()
        .flat_map(|d| d.ancestors())
        .map(|d| d.join("data/mnist"));
    for candidate in walk_up.chain(std::iter::once(built_in)) {
        if candidate.join(idx::TRAIN_FILES.0).is_file() {
            return Ok(candidate);
        }
        looked.push(candidate);
    }
    Err(MnistError::DirNotFound { looked })
}

/// `dir` as given by the learner (`given` says how: the flag or the
/// variable), which must be a directory.
fn checked_dir(dir: &Path, given: String) -> Result<PathBuf, MnistError> {
    if dir.is_dir() {
        Ok(dir.to_path_buf())
    } else {
        Err(MnistError::NotADirectory {
            given,
            dir: dir.to_path_buf(),
        })
    }
}

/// Writes `train` and `test` into `dir` as the four MNIST `.gz` files, in the
/// format [`Mnist::load`] reads: for tests and tools that make their own digits.
pub fn write_dir(dir: &Path, train: &Dataset, test: &Dataset) -> std::io::Result<()> {
    use std::io::Write;
    let header = |magic: u32, dims: &[usize]| -> Vec<u8> {
        let mut bytes = magic.to_be_bytes().to_vec();
        for &d in dims {
            bytes.extend_from_slice(&(d as u32).to_be_bytes());
        }
        bytes
    };
    for (set, (images, labels)) in [(train, idx::TRAIN_FILES), (test, idx::TEST_FILES)] {
        let n = set.len();
        let image_file = [
            header(idx::IMAGES_MAGIC, &[n, idx::SIDE, idx::SIDE]),
            set.pixels.clone(),
        ];
        let label_file = [header(idx::LABELS_MAGIC, &[n]), set.labels.clone()];
        for (name, parts) in [(images, image_file), (labels, label_file)] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&parts.concat())?;
            std::fs::write(dir.join(name), gz.finish()?)?;
        }
    }
    Ok(())
}

impl Dataset {
    /// Builds a dataset from raw parts (`pixels.len() == 784 · labels.len()`).
    /// Used by tests and by tools that make their own digits.
    pub fn from_parts(pixels: Vec<u8>, labels: Vec<u8>) -> Dataset {
        assert_eq!(
            pixels.len(),
            labels.len() * IMAGE_SIZE,
            "784 pixels per label"
        );
        Dataset { pixels, labels }
    }

    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// True when the set holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The labels, digits 0–9.
    pub fn labels(&self) -> &[u8] {
        &self.labels
    }

    /// The 784 raw pixels (0–255, row-major) of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        &self.pixels[i * IMAGE_SIZE..(i + 1) * IMAGE_SIZE]
    }

    /// The first `n` images (all of them if `n` is larger), for quick runs.
    pub fn first(&self, n: usize) -> Dataset {
        self.split_at(n.min(self.len())).0
    }

    /// Splits into images `0..n` and `n..`: `train.split_at(50_000)` gives the
    /// usual validation split (the last 10,000 training images).
    pub fn split_at(&self, n: usize) -> (Dataset, Dataset) {
        let (p0, p1) = self.pixels.split_at(n * IMAGE_SIZE);
        let (l0, l1) = self.labels.split_at(n);
        (
            Dataset {
                pixels: p0.to_vec(),
                labels: l0.to_vec(),
            },
            Dataset {
                pixels: p1.to_vec(),
                labels: l1.to_vec(),
            },
        )
    }

    /// All images as an `n × 784` matrix, pixel / 255 so each lies in `[0, 1]`.
    pub fn images<T: RealField + Copy + From<u8>>(&self) -> DMatrix<T> {
        let all: Vec<usize> = (0..self.len()).collect();
        self.batch_images(&all)
    }

    /// All targets as an `n × 10` one-hot matrix: row `k` is 1 in column `label_k`.
    pub fn one_hot<T: RealField + Copy>(&self) -> DMatrix<T> {
        let all: Vec<usize> = (0..self.len()).collect();
        self.batch_one_hot(&all)
    }

    // ANCHOR: batch_images
    /// The images at `indices`, as a `batch × 784` matrix scaled to `[0, 1]`.
    pub fn batch_images<T: RealField + Copy + From<u8>>(&self, indices: &[usize]) -> DMatrix<T> {
        let scale = T::from(255u8);
        // nalgebra is column-major: fill column by column for contiguous writes.
        DMatrix::from_fn(indices.len(), IMAGE_SIZE, |r, c| {
            T::from(self.pixels[indices[r] * IMAGE_SIZE + c]) / scale
        })
    }
    // ANCHOR_END: batch_images

    /// The whole set in consecutive pieces of at most `size` images, each as
    /// `(images: size × 784, labels)`: evaluates a network on all of MNIST
    /// without building one 60,000-row matrix.
    pub fn chunks<T: RealField + Copy + From<u8>>(
        &self,
        size: usize,
    ) -> impl Iterator<Item = (DMatrix<T>, &[u8])> + '_ {
        let size = size.max(1);
        (0..self.len()).step_by(size).map(move |start| {
            let end = (start + size).min(self.len());
            let indices: Vec<usize> = (start..end).collect();
            (self.batch_images(&indices), &self.labels[start..end])
        })
    }

    /// The fraction of this set a classifier gets right. `scores` maps a chunk
    /// of images (`n × 784`) to class scores (`n × 10`, probabilities or logits);
    /// the predicted digit is the column of the largest score.
    pub fn accuracy<T: RealField + Copy + From<u8>>(
        &self,
        mut scores: impl FnMut(&DMatrix<T>) -> DMatrix<T>,
    ) -> f64 {
        let correct: usize = self
            .chunks::<T>(EVAL_BATCH)
            .map(|(x, labels)| {
                (accuracy(&scores(&x), labels) * labels.len() as f64).round() as usize
            })
            .sum();
        correct as f64 / self.len().max(1) as f64
    }

    /// The labels at `indices`.
    pub fn batch_labels(&self, indices: &[usize]) -> Vec<u8> {
        indices.iter().map(|&i| self.labels[i]).collect()
    }

    /// The one-hot targets at `indices`, as a `batch × 10` matrix.
    pub fn batch_one_hot<T: RealField + Copy>(&self, indices: &[usize]) -> DMatrix<T> {
        one_hot(&self.batch_labels(indices))
    }
}

// ANCHOR: one_hot
/// One-hot encoding of `labels`: an `n × 10` matrix, row `k` is 1 at column `labels[k]`.
pub fn one_hot<T: RealField + Copy>(labels: &[u8]) -> DMatrix<T> {
    let mut t = DMatrix::zeros(labels.len(), CLASSES);
    for (row, &label) in labels.iter().enumerate() {
        t[(row, label as usize)] = T::one();
    }
    t
}
// ANCHOR_END: one_hot

/// The predicted digit of each row of `y` (`n × 10` scores, probabilities
/// or logits): the column of its largest entry, the first one on ties.
pub fn predictions<T: RealField + Copy>(y: &DMatrix<T>) -> Vec<u8> {
    (0..y.nrows())
        .map(|n| y.row(n).transpose().argmax().0 as u8)
        .collect()
}

/// Fraction of rows of `y` (`n × 10` scores) whose largest entry is in the
/// label's column.
pub fn accuracy<T: RealField + Copy>(y: &DMatrix<T>, labels: &[u8]) -> f64 {
    assert_eq!(y.nrows(), labels.len(), "one label per row of scores");
    fraction_correct(&predictions(y), labels)
}

/// The fraction of `predicted` digits equal to their `labels`.
pub fn fraction_correct(predicted: &[u8], labels: &[u8]) -> f64 {
    let correct = predicted.iter().zip(labels).filter(|(p, t)| p == t).count();
    correct as f64 / labels.len().max(1) as f64
}

/// Deterministic mini-batches: the same seed gives the same batches.
#[derive(Debug)]
pub struct BatchSampler {
    rng: StdRng,
    n: usize,
}

impl BatchSampler {
    /// A sampler over indices `0..n`, seeded.
    pub fn new(n: usize, seed: u64) -> BatchSampler {
        BatchSampler {
            rng: StdRng::seed_from_u64(seed),
            n,
        }
    }

    /// `batch_size` indices drawn uniformly with replacement, as chapter 4 of the
    /// book does (`np.random.choice(train_size, batch_size)`).
    pub fn sample(&mut self, batch_size: usize) -> Vec<usize> {
        (0..batch_size)
            .map(|_| self.rng.random_range(0..self.n))
            .collect()
    }

    /// One epoch: a fresh shuffle of `0..n` cut into batches of `batch_size`
    /// (the last one may be smaller), as mini-batch training in chapter 6 does.
    pub fn epoch(&mut self, batch_size: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut self.rng);
        order.chunks(batch_size).map(<[usize]>::to_vec).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> Dataset {
        let labels = vec![3, 1, 4, 1, 5];
        let pixels = (0..5 * IMAGE_SIZE)
            .map(|i| (i / IMAGE_SIZE * 50) as u8)
            .collect();
        Dataset::from_parts(pixels, labels)
    }

    #[test]
    fn images_are_rows_scaled_to_unit_interval() {
        let x: DMatrix<f64> = tiny().images();
        assert_eq!(x.shape(), (5, 784));
        assert_eq!(x[(0, 0)], 0.0);
        assert!((x[(1, 783)] - 50.0 / 255.0).abs() < 1e-15);
        assert!(x.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }

    #[test]
    fn one_hot_rows_have_a_single_one_at_the_label() {
        let t: DMatrix<f32> = tiny().one_hot();
        assert_eq!(t.shape(), (5, 10));
        for (row, &label) in tiny().labels().iter().enumerate() {
            assert_eq!(t.row(row).sum(), 1.0);
            assert_eq!(t[(row, label as usize)], 1.0);
        }
    }

    #[test]
    fn split_and_first_keep_images_with_their_labels() {
        let (a, b) = tiny().split_at(2);
        assert_eq!(a.labels(), &[3, 1]);
        assert_eq!(b.labels(), &[4, 1, 5]);
        assert_eq!(b.image(0), tiny().image(2));
        assert_eq!(tiny().first(10).len(), 5);
    }

    #[test]
    fn chunks_cover_the_set_in_order() {
        let chunks: Vec<(DMatrix<f32>, &[u8])> = tiny_ref().chunks(2).collect();
        assert_eq!(chunks.len(), 3);
        assert_eq!(chunks[2].0.shape(), (1, 784));
        assert_eq!(
            chunks
                .iter()
                .flat_map(|c| c.1.iter().copied())
                .collect::<Vec<_>>(),
            vec![3, 1, 4, 1, 5]
        );
        assert_eq!(chunks[1].0[(0, 0)], 100.0 / 255.0);
    }

    #[test]
    fn accuracy_counts_argmax_hits() {
        let y = DMatrix::from_row_slice(3, 2, &[0.9, 0.1, 0.2, 0.8, 0.6, 0.4]);
        assert_eq!(accuracy(&y, &[0, 1, 1]), 2.0 / 3.0);
        // Ties go to the first column.
        assert_eq!(predictions(&DMatrix::from_element(1, 3, 0.5)), vec![0]);
        // A "classifier" that always says 1: right on the two 1s of [3, 1, 4, 1, 5].
        let always_one = |x: &DMatrix<f64>| {
            DMatrix::from_fn(x.nrows(), 10, |_, k| if k == 1 { 1.0 } else { 0.0 })
        };
        assert_eq!(tiny_ref().accuracy(always_one), 0.4);
    }

    fn tiny_ref() -> &'static Dataset {
        static TINY: std::sync::OnceLock<Dataset> = std::sync::OnceLock::new();
        TINY.get_or_init(tiny)
    }

    #[test]
    fn batches_repeat_with_the_seed_and_cover_an_epoch() {
        let a = BatchSampler::new(100, 7).epoch(32);
        let b = BatchSampler::new(100, 7).epoch(32);
        let c = BatchSampler::new(100, 8).epoch(32);
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            a.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![32, 32, 32, 4]
        );
        let mut all: Vec<usize> = a.concat();
        all.sort();
        assert_eq!(all, (0..100).collect::<Vec<_>>());
        let s = BatchSampler::new(100, 7).sample(1000);
        assert!(s.iter().all(|&i| i < 100));
        assert_eq!(s, BatchSampler::new(100, 7).sample(1000));
    }
}
