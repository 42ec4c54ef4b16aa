//! # im2col and col2im: a convolution as one matrix product
//!
//! Stage 6 of the course (chapter 7, "implementing convolution with
//! im2col"). A convolution slides each filter over the image and, at every
//! position, sums the products of the filter with the patch under it. That
//! sum is a dot product, so if every patch is unrolled into a row of a
//! matrix `col`, and every filter into a column of `W`, all the dot products
//! of all filters at all positions of all images are one product `col · W`.
//!
//! [`im2col`] builds `col`: for a batch `x: N × (C·H·W)` (see
//! [`crate::layout`]) and a window `FH × FW` with stride `s` and padding `p`,
//! `col` is `(OH·OW·N) × (C·FH·FW)`:
//! - **row `(oh·OW + ow)·N + n`** is the patch of image `n` under output
//!   position `(oh, ow)`;
//! - **column `(c·FH + i)·FW + j`** is the patch's pixel `(i, j)` of channel
//!   `c`, that is the image's pixel `(oh·s + i − p, ow·s + j − p)`, and 0 where
//!   that falls into the padding.
//!
//! The book orders the rows image by image, `(n·OH + oh)·OW + ow`. Here the
//! images come fastest, because then (nalgebra storing matrices column by
//! column) every copy is a run of `N` neighbours in memory on both sides,
//! and the product `col · W: (OH·OW·N) × FN` already is the output batch
//! `N × (FN·OH·OW)` with no transpose (the book needs
//! `out.reshape(N, OH, OW, -1).transpose(0, 3, 1, 2)`).
//!
//! [`col2im`] goes back: it adds every entry of a `col`-shaped matrix to
//! the pixel it was copied from. Where patches overlap (stride smaller than
//! the filter) a pixel collects one number from each patch it is in: it is
//! the backward of `im2col`, whose input reached several rows.

use nalgebra::{DMatrix, RealField};

use crate::layout::{Shape, Window};

/// The image pixel `(row, column)` under pixel `(i, j)` of a window at output
/// position `(oh, ow)`, or `None` in the padding.
fn source(
    input: Shape,
    window: &Window,
    (oh, ow): (usize, usize),
    (i, j): (usize, usize),
) -> Option<(usize, usize)> {
    let h = (oh * window.stride + i).checked_sub(window.pad)?;
    let w = (ow * window.stride + j).checked_sub(window.pad)?;
    (h < input.height && w < input.width).then_some((h, w))
}

// ANCHOR: im2col
/// Unrolls every window-sized patch of the batch `x: N × (C·H·W)` into a row
/// of `col: (OH·OW·N) × (C·FH·FW)` (resized if needed). `(OH, OW)` must be
/// `window.output(input)`.
pub fn im2col<T: RealField + Copy>(
    x: &DMatrix<T>,
    input: Shape,
    window: &Window,
    (oh_count, ow_count): (usize, usize),
    col: &mut DMatrix<T>,
) {
    let n = x.nrows();
    assert_eq!(x.ncols(), input.len(), "im2col: x must be N × (C·H·W)");
    let rows = oh_count * ow_count * n;
    let (fh, fw) = (window.height, window.width);
    ch6_mlp::engine::dense::resize_buffer(col, rows, input.channels * fh * fw);
    let (x, col) = (x.as_slice(), col.as_mut_slice());
    for c in 0..input.channels {
        for i in 0..fh {
            for j in 0..fw {
                let column = (c * fh + i) * fw + j;
                for oh in 0..oh_count {
                    for ow in 0..ow_count {
                        // N images: col[(oh·OW + ow)·N + n, column] = x[n, (c, h, w)].
                        let row = (oh * ow_count + ow) * n;
                        let to = &mut col[column * rows + row..][..n];
                        match source(input, window, (oh, ow), (i, j)) {
                            Some((h, w)) => to.copy_from_slice(&x[input.index(c, h, w) * n..][..n]),
                            None => to.fill(T::zero()),
                        }
                    }
                }
            }
        }
    }
}
// ANCHOR_END: im2col

// ANCHOR: col2im
/// The backward of [`im2col`]: adds every entry of `dcol: (OH·OW·N) ×
/// (C·FH·FW)` to the pixel of `dx: N × (C·H·W)` it came from (resized if
/// needed, set to 0 first); entries from the padding are dropped.
pub fn col2im<T: RealField + Copy>(
    dcol: &DMatrix<T>,
    input: Shape,
    window: &Window,
    (oh_count, ow_count): (usize, usize),
    dx: &mut DMatrix<T>,
) {
    let (fh, fw) = (window.height, window.width);
    let rows = dcol.nrows();
    let n = rows / (oh_count * ow_count);
    assert_eq!(
        dcol.shape(),
        (oh_count * ow_count * n, input.channels * fh * fw)
    );
    ch6_mlp::engine::dense::resize_buffer(dx, n, input.len());
    dx.as_mut_slice().fill(T::zero());
    let (dcol, dx) = (dcol.as_slice(), dx.as_mut_slice());
    for c in 0..input.channels {
        for i in 0..fh {
            for j in 0..fw {
                let column = (c * fh + i) * fw + j;
                for oh in 0..oh_count {
                    for ow in 0..ow_count {
                        let row = (oh * ow_count + ow) * n;
                        if let Some((h, w)) = source(input, window, (oh, ow), (i, j)) {
                            let from = &dcol[column * rows + row..][..n];
                            let to = &mut dx[input.index(c, h, w) * n..][..n];
                            for (to, &from) in to.iter_mut().zip(from) {
                                *to += from;
                            }
                        }
                    }
                }
            }
        }
    }
}
// ANCHOR_END: col2im

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_is_one_patch_as_in_the_book() {
        // One 1×3×3 image 1..9, a 2×2 window, stride 1: four patches.
        let x = DMatrix::from_row_slice(1, 9, &[1., 2., 3., 4., 5., 6., 7., 8., 9.]);
        let window = Window {
            height: 2,
            width: 2,
            stride: 1,
            pad: 0,
        };
        let shape = Shape::new(1, 3, 3);
        let mut col = DMatrix::zeros(0, 0);
        im2col(&x, shape, &window, window.output(shape).unwrap(), &mut col);
        let expected = DMatrix::from_row_slice(
            4,
            4,
            &[
                1., 2., 4., 5., //
                2., 3., 5., 6., //
                4., 5., 7., 8., //
                5., 6., 8., 9.,
            ],
        );
        assert_eq!(col, expected);
        // col2im adds each pixel once per patch it is in: the centre is in all four.
        let mut dx = DMatrix::zeros(0, 0);
        col2im(
            &DMatrix::from_element(4, 4, 1.0),
            shape,
            &window,
            (2, 2),
            &mut dx,
        );
        assert_eq!(dx.as_slice(), &[1., 2., 1., 2., 4., 2., 1., 2., 1.]);
    }

    #[test]
    fn padding_gives_zeros_and_images_interleave() {
        // Two 1×2×2 images, a 3×3 window with padding 1: 2×2 positions.
        let x = DMatrix::from_row_slice(2, 4, &[1., 2., 3., 4., 10., 20., 30., 40.]);
        let window = Window {
            height: 3,
            width: 3,
            stride: 1,
            pad: 1,
        };
        let shape = Shape::new(1, 2, 2);
        let mut col = DMatrix::zeros(0, 0);
        im2col(&x, shape, &window, (2, 2), &mut col);
        assert_eq!(col.shape(), (8, 9));
        // Row 0: image 0 at position (0, 0): the top row and left column are padding.
        let row0: Vec<f64> = col.row(0).iter().copied().collect();
        assert_eq!(row0, [0., 0., 0., 0., 1., 2., 0., 3., 4.]);
        // Row 1: image 1 at the same position.
        let row1: Vec<f64> = col.row(1).iter().copied().collect();
        assert_eq!(row1, [0., 0., 0., 0., 10., 20., 0., 30., 40.]);
        // Row 7: image 1 at position (1, 1).
        let row7: Vec<f64> = col.row(7).iter().copied().collect();
        assert_eq!(row7, [10., 20., 0., 30., 40., 0., 0., 0., 0.]);
    }

    #[test]
    fn col2im_is_the_transpose_of_im2col() {
        // ⟨im2col(x), g⟩ = ⟨x, col2im(g)⟩ for every x and g: col2im is im2col's adjoint.
        let shape = Shape::new(2, 5, 6);
        for (size, stride, pad) in [(3, 1, 0), (3, 2, 1), (4, 1, 2), (5, 2, 2)] {
            let window = Window {
                height: size,
                width: size - 1,
                stride,
                pad,
            };
            let out = window.output(shape).unwrap();
            let x = DMatrix::from_fn(3, shape.len(), |r, c| ((r * 31 + c * 7) % 13) as f64 - 6.0);
            let mut col = DMatrix::zeros(0, 0);
            im2col(&x, shape, &window, out, &mut col);
            let g = DMatrix::from_fn(col.nrows(), col.ncols(), |r, c| {
                ((r * 5 + c * 11) % 17) as f64 - 8.0
            });
            let mut back = DMatrix::zeros(0, 0);
            col2im(&g, shape, &window, out, &mut back);
            assert_eq!(col.dot(&g), x.dot(&back), "window {window:?}");
        }
    }
}
