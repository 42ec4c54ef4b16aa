//! Every way the data can be wrong gives an error naming the file and what
//! was expected, never a panic. Each test writes the bad file into a temporary
//! directory next to good copies of the others.

use std::io::Write;
use std::path::Path;

use mnist::{Mnist, MnistError, find_data_dir};

const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn idx(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend_from_slice(&d.to_be_bytes());
    }
    v.extend_from_slice(data);
    v
}

/// A small valid data directory: `n` train and `n` test digits.
fn small_dir(n: u32) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let images = idx(0x803, &[n, 28, 28], &vec![128; n as usize * 784]);
    let labels = idx(
        0x801,
        &[n],
        &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>(),
    );
    for (name, bytes) in [
        (TRAIN_IMAGES, &images),
        (TRAIN_LABELS, &labels),
        (TEST_IMAGES, &images),
        (TEST_LABELS, &labels),
    ] {
        std::fs::write(dir.path().join(name), gz(bytes)).unwrap();
    }
    dir
}

fn load_with(name: &str, contents: &[u8]) -> (MnistError, String) {
    let dir = small_dir(3);
    std::fs::write(dir.path().join(name), contents).unwrap();
    let err = Mnist::load(dir.path()).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(name),
        "message should name the file {name}: {msg}"
    );
    (err, msg)
}

#[test]
fn a_valid_small_directory_loads() {
    let dir = small_dir(3);
    let m = Mnist::load(dir.path()).unwrap();
    assert_eq!(m.train.labels(), &[0, 1, 2]);
    assert_eq!(m.test.len(), 3);
}

#[test]
fn a_data_dir_that_is_not_a_directory_is_named_with_the_flag() {
    let err = find_data_dir(Some(Path::new("/no/such/mnist"))).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, MnistError::NotADirectory { .. }));
    assert!(msg.contains("--data-dir /no/such/mnist"), "{msg}");
    assert!(msg.contains("nothing is there"), "{msg}");
    let file = tempfile::NamedTempFile::new().unwrap();
    let msg = find_data_dir(Some(file.path())).unwrap_err().to_string();
    assert!(msg.contains("not a directory"), "{msg}");
    assert!(!msg.contains("nothing is there"), "{msg}");
}

#[test]
fn when_nothing_is_found_it_says_where_it_looked_and_how_to_fix_it() {
    let err = MnistError::DirNotFound {
        looked: vec!["/a/data/mnist".into()],
    };
    let msg = err.to_string();
    assert!(msg.contains("/a/data/mnist"), "{msg}");
    assert!(
        msg.contains("--data-dir") && msg.contains("MNIST_DIR"),
        "{msg}"
    );
}

#[test]
fn a_gzip_bomb_is_refused_before_it_is_inflated() {
    // The header announces 3 labels, then 100 MB of zeros follow: the loader
    // must stop after the announced bytes (and say there are more), not
    // decompress everything first.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&idx(0x801, &[3], &[1, 2, 3])).unwrap();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..100 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 200_000, "{}", bomb.len());
    let (err, msg) = load_with(TRAIN_LABELS, &bomb);
    assert!(matches!(err, MnistError::TrailingBytes { .. }), "{msg}");
}

#[test]
fn a_header_announcing_more_than_the_limit_is_refused() {
    let (err, msg) = load_with(TRAIN_IMAGES, &gz(&idx(0x803, &[1_000_000, 28, 28], &[])));
    assert!(matches!(err, MnistError::TooLarge { .. }), "{msg}");
    assert!(msg.contains("784000016"), "{msg}");
}

#[test]
fn several_gzip_members_are_read_as_one_stream() {
    // `gzip -d` reads concatenated members as one file; so do we.
    let dir = small_dir(3);
    let labels = idx(0x801, &[3], &[4, 5, 6]);
    let mut two = gz(&labels[..5]);
    two.extend(gz(&labels[5..]));
    std::fs::write(dir.path().join(TRAIN_LABELS), two).unwrap();
    assert_eq!(Mnist::load(dir.path()).unwrap().train.labels(), &[4, 5, 6]);
}

#[test]
fn bytes_after_the_gzip_stream_are_an_error() {
    let mut file = gz(&idx(0x801, &[3], &[0, 1, 2]));
    file.extend_from_slice(b"garbage after the data");
    let (err, msg) = load_with(TRAIN_LABELS, &file);
    assert!(matches!(err, MnistError::CorruptGzip { .. }), "{msg}");
}

#[cfg(unix)]
#[test]
fn a_pipe_or_a_device_is_not_read() {
    let dir = small_dir(3);
    let fifo = dir.path().join(TEST_IMAGES);
    std::fs::remove_file(&fifo).unwrap();
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    if made.is_ok_and(|s| s.success()) {
        // Opening a FIFO with no writer would block forever.
        let err = Mnist::load(dir.path()).unwrap_err();
        assert!(matches!(err, MnistError::NotAFile { .. }), "{err}");
        assert!(err.to_string().contains(TEST_IMAGES), "{err}");
    }
    std::fs::remove_file(&fifo).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &fifo).unwrap();
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(matches!(err, MnistError::NotAFile { .. }), "{err}");
}

#[test]
fn missing_file_is_named() {
    let dir = small_dir(3);
    std::fs::remove_file(dir.path().join(TEST_LABELS)).unwrap();
    let err = Mnist::load(dir.path()).unwrap_err();
    assert!(matches!(err, MnistError::FileMissing { .. }), "{err}");
    assert!(err.to_string().contains(TEST_LABELS), "{err}");
    assert!(err.to_string().contains("data/mnist"), "{err}");
}

#[test]
fn a_file_that_is_not_gzip() {
    let (err, msg) = load_with(TRAIN_IMAGES, b"this is plain text, not gzip");
    assert!(matches!(err, MnistError::NotGzip { .. }));
    assert!(msg.contains("not a gzip file"), "{msg}");
}

#[test]
fn a_gzip_stream_cut_short() {
    let full = gz(&idx(0x803, &[3, 28, 28], &[0; 3 * 784]));
    let (err, msg) = load_with(TRAIN_IMAGES, &full[..full.len() / 2]);
    assert!(matches!(err, MnistError::CorruptGzip { .. }), "{msg}");
    assert!(msg.contains("corrupt or truncated gzip"), "{msg}");
}

#[test]
fn wrong_magic_number() {
    // A labels file where an images file belongs.
    let (err, msg) = load_with(TRAIN_IMAGES, &gz(&idx(0x801, &[3], &[1, 2, 3])));
    assert!(
        matches!(
            err,
            MnistError::BadMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("0x00000801") && msg.contains("0x00000803"),
        "{msg}"
    );
}

#[test]
fn image_data_shorter_than_the_header_says() {
    let (err, msg) = load_with(TEST_IMAGES, &gz(&idx(0x803, &[3, 28, 28], &[0; 2 * 784])));
    assert!(
        matches!(
            err,
            MnistError::Truncated {
                expected: 2368,
                found: 1584,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("truncated"), "{msg}");
}

#[test]
fn image_count_different_from_label_count() {
    let (err, msg) = load_with(TRAIN_LABELS, &gz(&idx(0x801, &[2], &[1, 2])));
    assert!(
        matches!(
            err,
            MnistError::CountMismatch {
                images: 3,
                labels: 2,
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains(TRAIN_IMAGES) && msg.contains("must match"),
        "{msg}"
    );
}

#[test]
fn label_above_nine() {
    let (err, msg) = load_with(TEST_LABELS, &gz(&idx(0x801, &[3], &[1, 12, 3])));
    assert!(
        matches!(
            err,
            MnistError::BadLabel {
                index: 1,
                label: 12,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("not a digit 0-9"), "{msg}");
}

#[test]
fn wrong_image_size() {
    let (err, msg) = load_with(TRAIN_IMAGES, &gz(&idx(0x803, &[3, 32, 32], &[0; 3 * 1024])));
    assert!(
        matches!(
            err,
            MnistError::BadImageSize {
                rows: 32,
                cols: 32,
                ..
            }
        ),
        "{msg}"
    );
    assert!(msg.contains("expected 28×28"), "{msg}");
}

#[test]
fn write_dir_writes_what_load_reads() {
    let dir = tempfile::tempdir().unwrap();
    let pixels: Vec<u8> = (0..2 * 784).map(|i| (i % 256) as u8).collect();
    let train = mnist::Dataset::from_parts(pixels, vec![3, 9]);
    let test = train.first(1);
    mnist::write_dir(dir.path(), &train, &test).unwrap();
    let loaded = Mnist::load(dir.path()).unwrap();
    assert_eq!(loaded.train, train);
    assert_eq!(loaded.test, test);
}
