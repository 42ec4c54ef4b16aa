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

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

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
/// The most a data file may hold decompressed: 256 MiB, about 340,000 images
/// of 28×28 (MNIST's largest file is 47 MB). A header that announces more is
/// refused before anything is decompressed.
pub const MAX_DECOMPRESSED: usize = 256 << 20;

/// Reads an IDX file from gzip, decompressing no more than its header
/// announces: first the header, checked, then exactly the announced data.
/// What follows the data must be the end of the file (several gzip members
/// are read one after the other, as `gzip -d` does).
///
/// Errors name the file: missing, not a regular file, unreadable, not gzip at
/// all, a gzip stream that ends early or is corrupt, a header that announces
/// too much, or bytes after the data.
pub fn read_gz(path: &Path) -> Result<Vec<u8>, MnistError> {
    let mut gz = open_gz(path)?;
    let corrupt = |source| MnistError::CorruptGzip {
        path: path.to_path_buf(),
        source,
    };
    // The magic says how long the header is: 8 bytes for labels, 16 for images.
    let mut bytes = read_up_to(&mut gz, 8).map_err(corrupt)?;
    if be_u32(path, &bytes, 0)? == IMAGES_MAGIC {
        bytes.extend(read_up_to(&mut gz, 8).map_err(corrupt)?);
    }
    let expected = announced_len(path, &bytes)?;
    // One byte more than announced tells data that goes on (an error the
    // parser reports) from data that ends where the header says.
    let rest = read_up_to(&mut gz, (expected + 1).saturating_sub(bytes.len()));
    bytes.extend(rest.map_err(corrupt)?);
    Ok(bytes)
}
// ANCHOR_END: read_gz

// ANCHOR: gunzip
/// Opens `path` as a gzip stream: it must be a regular file (not a folder, a
/// pipe or a device, which could hang or never end) that starts with gzip's
/// two signature bytes `1f 8b`.
fn open_gz(path: &Path) -> Result<MultiGzDecoder<BufReader<File>>, MnistError> {
    let io_error = |source: std::io::Error| {
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
    };
    if !std::fs::metadata(path).map_err(io_error)?.is_file() {
        return Err(MnistError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    let mut file = BufReader::new(File::open(path).map_err(io_error)?);
    let start = file.fill_buf().map_err(io_error)?;
    if start.len() < 2 || start[..2] != [0x1f, 0x8b] {
        return Err(MnistError::NotGzip {
            path: path.to_path_buf(),
        });
    }
    Ok(MultiGzDecoder::new(file))
}

/// Reads at most `n` bytes, fewer only at the end of the stream.
fn read_up_to(reader: &mut impl Read, n: usize) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    reader.take(n as u64).read_to_end(&mut out)?;
    Ok(out)
}

/// Decompresses gzip bytes held in memory (`path` is only used in error
/// messages), with the same limit as [`read_gz`].
pub fn gunzip(path: &Path, compressed: &[u8]) -> Result<Vec<u8>, MnistError> {
    if compressed.len() < 2 || compressed[..2] != [0x1f, 0x8b] {
        return Err(MnistError::NotGzip {
            path: path.to_path_buf(),
        });
    }
    let out = read_up_to(&mut MultiGzDecoder::new(compressed), MAX_DECOMPRESSED + 1).map_err(
        |source| MnistError::CorruptGzip {
            path: path.to_path_buf(),
            source,
        },
    )?;
    if out.len() > MAX_DECOMPRESSED {
        return Err(MnistError::TooLarge {
            path: path.to_path_buf(),
            announced: out.len(),
        });
    }
    Ok(out)
}
// ANCHOR_END: gunzip

/// The whole length (header and data) that a labels or images header
/// announces, refused above [`MAX_DECOMPRESSED`]. A header of the wrong kind
/// announces nothing: the parser that reads it says what is wrong.
fn announced_len(path: &Path, header: &[u8]) -> Result<usize, MnistError> {
    let dim = |offset| be_u32(path, header, offset).map(|d| d as usize);
    let len = match be_u32(path, header, 0)? {
        LABELS_MAGIC => dim(4)?.saturating_add(8),
        IMAGES_MAGIC => dim(4)?
            .saturating_mul(dim(8)?)
            .saturating_mul(dim(12)?)
            .saturating_add(16),
        _ => header.len(),
    };
    if len > MAX_DECOMPRESSED {
        return Err(MnistError::TooLarge {
            path: path.to_path_buf(),
            announced: len,
        });
    }
    Ok(len)
}

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
        fn a_mutated_file_gives_an_error_or_a_valid_dataset(
            flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
            images in any::<bool>(),
        ) {
            // A valid small file, compressed, with a few bytes changed
            // anywhere (header, gzip framing, data), read from disk.
            use std::io::Write;
            let raw = if images {
                let mut b = header(IMAGES_MAGIC, &[2, 28, 28]);
                b.extend((0..2 * 784).map(|i| (i % 251) as u8));
                b
            } else {
                let mut b = header(LABELS_MAGIC, &[5]);
                b.extend_from_slice(&[3, 1, 4, 1, 5]);
                b
            };
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(&raw).unwrap();
            let mut gz = enc.finish().unwrap();
            for (at, byte) in flips {
                let i = at.index(gz.len());
                gz[i] = byte;
            }
            let file = tempfile::NamedTempFile::new().unwrap();
            std::fs::write(file.path(), &gz).unwrap();
            if let Ok(bytes) = read_gz(file.path()) {
                let parsed = if images {
                    parse_images(file.path(), &bytes).map(|p| p.len() % 784 == 0)
                } else {
                    parse_labels(file.path(), &bytes).map(|l| l.iter().all(|&d| d < 10))
                };
                prop_assert!(parsed.unwrap_or(true));
            }
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
