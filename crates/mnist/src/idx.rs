//! The IDX file format of MNIST, read from gzip: the bytes-to-numbers layer
//! under [`crate::Mnist::load`]. Every stage of the course starts from what this
//! file returns.
//!
//! An IDX file is a big-endian header followed by raw `u8` data:
//!
//! | offset | labels file            | images file            |
//! |--------|------------------------|------------------------|
//! | 0      | magic `0x00000801`     | magic `0x00000803`     |
//! | 4      | count                  | count                  |
//! | 8      | `count` labels, 1 byte | rows (28)              |
//! | 12     |                        | cols (28)              |
//! | 16     |                        | `count·rows·cols` pixels, row-major |

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::MnistError;

// ANCHOR: constants
/// Magic number of an IDX file of unsigned bytes with one dimension (labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;
/// Magic number of an IDX file of unsigned bytes with three dimensions (images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// MNIST images are 28×28 pixels.
pub const SIDE: usize = 28;
// ANCHOR_END: constants

// ANCHOR: read_gz
/// Reads a whole `.gz` file into memory, decompressed.
///
/// Errors name the file: missing, unreadable, not gzip at all, or a gzip
/// stream that ends early or is corrupt.
pub fn read_gz(path: &Path) -> Result<Vec<u8>, MnistError> {
    let compressed = std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            MnistError::FileMissing {
                path: path.to_path_buf(),
            }
        } else {
            MnistError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })?;
    gunzip(path, &compressed)
}
// ANCHOR_END: read_gz

// ANCHOR: gunzip
/// Decompresses gzip bytes (`path` is only used in error messages).
pub fn gunzip(path: &Path, compressed: &[u8]) -> Result<Vec<u8>, MnistError> {
    if compressed.len() < 2 || compressed[..2] != [0x1f, 0x8b] {
        return Err(MnistError::NotGzip {
            path: path.to_path_buf(),
        });
    }
    // The decompressed images are about 5× the compressed size.
    let mut out = Vec::with_capacity(compressed.len() * 5);
    flate2::read::GzDecoder::new(compressed)
        .read_to_end(&mut out)
        .map_err(|source| MnistError::CorruptGzip {
            path: path.to_path_buf(),
            source,
        })?;
    Ok(out)
}
// ANCHOR_END: gunzip

// ANCHOR: be_u32
fn be_u32(path: &Path, bytes: &[u8], offset: usize) -> Result<u32, MnistError> {
    let word = bytes
        .get(offset..offset + 4)
        .ok_or_else(|| MnistError::Truncated {
            path: path.to_path_buf(),
            expected: offset + 4,
            found: bytes.len(),
        })?;
    Ok(u32::from_be_bytes([word[0], word[1], word[2], word[3]]))
}
// ANCHOR_END: be_u32

// ANCHOR: check_magic
fn check_magic(path: &Path, bytes: &[u8], expected: u32) -> Result<(), MnistError> {
    let found = be_u32(path, bytes, 0)?;
    if found != expected {
        return Err(MnistError::BadMagic {
            path: path.to_path_buf(),
            expected,
            found,
        });
    }
    Ok(())
}
// ANCHOR_END: check_magic

// ANCHOR: data
/// Takes exactly `len` bytes of data starting at `offset`; extra bytes after
/// them are an error too, since they mean the header does not describe the file.
fn data<'a>(
    path: &Path,
    bytes: &'a [u8],
    offset: usize,
    len: usize,
) -> Result<&'a [u8], MnistError> {
    let expected = offset.saturating_add(len);
    if bytes.len() < expected {
        return Err(MnistError::Truncated {
            path: path.to_path_buf(),
            expected,
            found: bytes.len(),
        });
    }
    if bytes.len() > expected {
        return Err(MnistError::TrailingBytes {
            path: path.to_path_buf(),
            expected,
            found: bytes.len(),
        });
    }
    Ok(&bytes[offset..])
}
// ANCHOR_END: data

// ANCHOR: parse_labels
/// Parses a decompressed IDX labels file: magic `0x801`, count, then one byte
/// per label, each a digit 0–9.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, MnistError> {
    check_magic(path, bytes, LABELS_MAGIC)?;
    let count = be_u32(path, bytes, 4)? as usize;
    let labels = data(path, bytes, 8, count)?;
    if let Some(index) = labels.iter().position(|&l| l > 9) {
        return Err(MnistError::BadLabel {
            path: path.to_path_buf(),
            index,
            label: labels[index],
        });
    }
    Ok(labels.to_vec())
}
// ANCHOR_END: parse_labels

// ANCHOR: parse_images
/// Parses a decompressed IDX images file: magic `0x803`, count, rows, cols,
/// then `count·rows·cols` pixels (0 = white background, 255 = ink).
/// MNIST images must be 28×28.
pub fn parse_images(path: &Path, bytes: &[u8]) -> Result<Vec<u8>, MnistError> {
    check_magic(path, bytes, IMAGES_MAGIC)?;
    let count = be_u32(path, bytes, 4)? as usize;
    let rows = be_u32(path, bytes, 8)? as usize;
    let cols = be_u32(path, bytes, 12)? as usize;
    if rows != SIDE || cols != SIDE {
        return Err(MnistError::BadImageSize {
            path: path.to_path_buf(),
            rows,
            cols,
        });
    }
    let pixels = data(path, bytes, 16, count.saturating_mul(SIDE * SIDE))?;
    Ok(pixels.to_vec())
}
// ANCHOR_END: parse_images

// ANCHOR: files
/// The four file names of the MNIST distribution, as `(images, labels)` pairs.
pub const TRAIN_FILES: (&str, &str) = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
/// The test files.
pub const TEST_FILES: (&str, &str) = ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
// ANCHOR_END: files

// ANCHOR: read_pair
/// Reads one images file and one labels file from `dir` and checks that they
/// describe the same number of digits.
pub fn read_pair(
    dir: &Path,
    (images, labels): (&str, &str),
) -> Result<(Vec<u8>, Vec<u8>), MnistError> {
    let images_path: PathBuf = dir.join(images);
    let labels_path: PathBuf = dir.join(labels);
    let pixels = parse_images(&images_path, &read_gz(&images_path)?)?;
    let labels = parse_labels(&labels_path, &read_gz(&labels_path)?)?;
    let images = pixels.len() / (SIDE * SIDE);
    if images != labels.len() {
        return Err(MnistError::CountMismatch {
            images_path,
            images,
            labels_path,
            labels: labels.len(),
        });
    }
    Ok((pixels, labels))
}
// ANCHOR_END: read_pair

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn header(magic: u32, dims: &[u32]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend_from_slice(&d.to_be_bytes());
        }
        v
    }

    #[test]
    fn parses_a_tiny_labels_file() {
        let mut bytes = header(LABELS_MAGIC, &[3]);
        bytes.extend_from_slice(&[7, 2, 1]);
        assert_eq!(parse_labels(Path::new("l"), &bytes).unwrap(), vec![7, 2, 1]);
    }

    #[test]
    fn parses_a_tiny_images_file() {
        let mut bytes = header(IMAGES_MAGIC, &[2, 28, 28]);
        bytes.extend((0..2 * 784).map(|i| (i % 256) as u8));
        let pixels = parse_images(Path::new("i"), &bytes).unwrap();
        assert_eq!(pixels.len(), 2 * 784);
        assert_eq!(pixels[300], (300 % 256) as u8);
    }

    #[test]
    fn short_header_is_truncated_not_a_panic() {
        let err = parse_images(Path::new("x"), &[0, 0, 8]).unwrap_err();
        assert!(
            matches!(
                err,
                MnistError::Truncated {
                    expected: 4,
                    found: 3,
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn trailing_bytes_are_rejected() {
        let mut bytes = header(LABELS_MAGIC, &[1]);
        bytes.extend_from_slice(&[1, 2]);
        let err = parse_labels(Path::new("l"), &bytes).unwrap_err();
        assert!(
            err.to_string().contains("more bytes than its header"),
            "{err}"
        );
    }

    proptest! {
        // Arbitrary bytes, with or without a valid header in front, give Ok or
        // Err but never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = parse_labels(Path::new("p"), &bytes);
            let _ = parse_images(Path::new("p"), &bytes);
            let _ = gunzip(Path::new("p"), &bytes);
        }

        #[test]
        fn arbitrary_payload_after_valid_header_never_panics(
            count in any::<u32>(),
            rows in 0u32..64,
            cols in 0u32..64,
            tail in proptest::collection::vec(any::<u8>(), 0..4096),
        ) {
            let mut bytes = header(IMAGES_MAGIC, &[count, rows, cols]);
            bytes.extend_from_slice(&tail);
            let _ = parse_images(Path::new("p"), &bytes);
            let mut bytes = header(LABELS_MAGIC, &[count]);
            bytes.extend_from_slice(&tail);
            let _ = parse_labels(Path::new("p"), &bytes);
        }

        #[test]
        fn gzip_of_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            use std::io::Write;
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&bytes).unwrap();
            let gz = enc.finish().unwrap();
            // Cut the stream anywhere: a truncated gzip must be an error, not a panic.
            let cut = gz.len() / 2;
            let _ = gunzip(Path::new("p"), &gz[..cut]);
            let raw = gunzip(Path::new("p"), &gz).unwrap();
            let _ = parse_images(Path::new("p"), &raw);
        }
    }
}
