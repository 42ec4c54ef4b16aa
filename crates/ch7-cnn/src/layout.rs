//! # Images in matrices: the `N × C × H × W` layout, kept in one place
//!
//! Stage 6 of the course (chapter 7). The book's numpy code keeps a batch of
//! images as a 4-D array `x[n, c, h, w]`: image `n`, channel `c`, row `h`,
//! column `w`. The course's layers pass nalgebra matrices, one sample per
//! row, as MNIST batches already are (`batch × 784`). So a batch of images
//! is an `N × (C·H·W)` matrix:
//!
//! - **row `n`** is image `n`, flattened;
//! - **column `(c·H + h)·W + w`** ([`Shape::index`]) is pixel `(h, w)` of
//!   channel `c`: channel by channel, each channel row by row, exactly
//!   numpy's `x.reshape(N, -1)`. An MNIST batch is `C = 1, H = W = 28`.
//!
//! nalgebra stores a matrix column by column, so entry `(n, j)` lives at
//! `j·N + n` of [`DMatrix::as_slice`]: **the `N` images' values of one pixel
//! sit side by side**. Every loop of this stage (im2col, col2im, pooling)
//! copies or compares such runs of `N` neighbours, and the same numbers read
//! as an `(H·W·N) × C` matrix are "one row per (pixel, image), one column per
//! channel", which is what the convolution's matrix product wants
//! ([`reshaped`] reinterprets a matrix without copying it).
//!
//! Flattening a stack of feature maps before an affine layer (the book's
//! `x.reshape(N, -1)`) is therefore nothing at all: the pooled `N × (C·H·W)`
//! matrix already is the affine layer's `N × n_in` input.

use nalgebra::{DMatrix, Dyn, RealField};

/// The shape of one image or stack of feature maps: `C × H × W`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shape {
    pub channels: usize,
    pub height: usize,
    pub width: usize,
}

impl Shape {
    /// An MNIST digit: one channel of 28 × 28.
    pub const MNIST: Shape = Shape {
        channels: 1,
        height: 28,
        width: 28,
    };

    pub fn new(channels: usize, height: usize, width: usize) -> Shape {
        Shape {
            channels,
            height,
            width,
        }
    }

    /// Numbers per image, `C·H·W`: the columns of a batch matrix.
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether the shape holds no number at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    // ANCHOR: index
    /// The column of pixel `(h, w)` of channel `c` in a batch matrix:
    /// `(c·H + h)·W + w`. Its value for image `n` is at `index·N + n`.
    pub fn index(&self, c: usize, h: usize, w: usize) -> usize {
        (c * self.height + h) * self.width + w
    }
    // ANCHOR_END: index
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}×{}×{}", self.channels, self.height, self.width)
    }
}

/// A window sliding over an image: a filter of a convolution, or a pooling
/// window. `height × width`, moved `stride` pixels at a time, over the image
/// with `pad` rows and columns of zeros added on every side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub height: usize,
    pub width: usize,
    pub stride: usize,
    pub pad: usize,
}

/// A window that does not fit the image it slides over.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("stride 0: a window must move at least one pixel at a time")]
    ZeroStride,
    #[error("a {window_h}×{window_w} window has no pixels")]
    EmptyWindow { window_h: usize, window_w: usize },
    #[error(
        "a {window_h}×{window_w} window is larger than the {padded_h}×{padded_w} image (with padding {pad}) it slides over"
    )]
    WindowTooLarge {
        window_h: usize,
        window_w: usize,
        padded_h: usize,
        padded_w: usize,
        pad: usize,
    },
    #[error(
        "a {window} window with stride {stride} does not divide the {padded} pixels of the padded {side}: ({padded} − {window}) / {stride} is not a whole number; change the stride or the padding"
    )]
    DoesNotDivide {
        side: &'static str,
        padded: usize,
        window: usize,
        stride: usize,
    },
    #[error(
        "a side, window, stride or padding of {found} is past any image this course handles (at most {MAX_SIDE})"
    )]
    TooLarge { found: usize },
    #[error("the input has {found} numbers per image, the layer expects {expected} ({shape})")]
    WrongInput {
        found: usize,
        expected: usize,
        shape: Shape,
    },
}

/// The largest side, window, stride or padding [`Window::output`] takes:
/// far past any image, and small enough that `size + 2·pad` and the products
/// of sizes that follow cannot overflow.
pub const MAX_SIDE: usize = 1 << 16;

// ANCHOR: output_size
/// How many positions the window takes along a side of `size` pixels:
/// `(size + 2·pad − window) / stride + 1`, the book's `OH` and `OW`.
/// The division must be exact, so that the window ends at the last pixel.
fn positions(
    side: &'static str,
    size: usize,
    window: usize,
    stride: usize,
    pad: usize,
) -> Result<usize, ShapeError> {
    let padded = size + 2 * pad;
    if (padded - window) % stride != 0 {
        return Err(ShapeError::DoesNotDivide {
            side,
            padded,
            window,
            stride,
        });
    }
    Ok((padded - window) / stride + 1)
}

impl Window {
    /// The `OH × OW` output positions over an image of `input`'s height and
    /// width, or why the window does not fit.
    pub fn output(&self, input: Shape) -> Result<(usize, usize), ShapeError> {
        let sides = [input.height, input.width, self.height, self.width];
        if let Some(&found) =
            (sides.iter().chain([&self.stride, &self.pad])).find(|&&n| n > MAX_SIDE)
        {
            return Err(ShapeError::TooLarge { found });
        }
        if self.stride == 0 {
            return Err(ShapeError::ZeroStride);
        }
        if self.height == 0 || self.width == 0 {
            return Err(ShapeError::EmptyWindow {
                window_h: self.height,
                window_w: self.width,
            });
        }
        let (padded_h, padded_w) = (input.height + 2 * self.pad, input.width + 2 * self.pad);
        if self.height > padded_h || self.width > padded_w {
            return Err(ShapeError::WindowTooLarge {
                window_h: self.height,
                window_w: self.width,
                padded_h,
                padded_w,
                pad: self.pad,
            });
        }
        let oh = positions("height", input.height, self.height, self.stride, self.pad)?;
        let ow = positions("width", input.width, self.width, self.stride, self.pad)?;
        Ok((oh, ow))
    }
}
// ANCHOR_END: output_size

/// The same numbers, in the same order, as a `rows × cols` matrix (no copy):
/// a batch `N × (C·H·W)` seen as `(H·W·N) × C`, and back.
pub fn reshaped<T: RealField + Copy>(m: DMatrix<T>, rows: usize, cols: usize) -> DMatrix<T> {
    assert_eq!(
        m.len(),
        rows * cols,
        "reshaped: the number of entries differs"
    );
    m.reshape_generic(Dyn(rows), Dyn(cols))
}

/// Checks that a batch `x` has `shape.len()` columns.
pub fn check_input<T: RealField + Copy>(x: &DMatrix<T>, shape: Shape) -> Result<(), ShapeError> {
    if x.ncols() == shape.len() {
        Ok(())
    } else {
        Err(ShapeError::WrongInput {
            found: x.ncols(),
            expected: shape.len(),
            shape,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(size: usize, stride: usize, pad: usize) -> Window {
        Window {
            height: size,
            width: size,
            stride,
            pad,
        }
    }

    #[test]
    fn output_sizes_follow_the_books_formula() {
        // The book's examples: 4×4 input, 3×3 filter → 2×2; padding 1 → 4×4; 7×7, stride 2 → 3×3.
        assert_eq!(window(3, 1, 0).output(Shape::new(1, 4, 4)), Ok((2, 2)));
        assert_eq!(window(3, 1, 1).output(Shape::new(1, 4, 4)), Ok((4, 4)));
        assert_eq!(window(3, 2, 0).output(Shape::new(1, 7, 7)), Ok((3, 3)));
        // SimpleConvNet: 28×28, 5×5 → 24×24; pool 2×2 stride 2 → 12×12.
        assert_eq!(window(5, 1, 0).output(Shape::MNIST), Ok((24, 24)));
        assert_eq!(window(2, 2, 0).output(Shape::new(30, 24, 24)), Ok((12, 12)));
    }

    #[test]
    fn windows_that_do_not_fit_are_refused_with_a_reason() {
        let mnist = Shape::MNIST;
        assert_eq!(window(5, 0, 0).output(mnist), Err(ShapeError::ZeroStride));
        let err = window(29, 1, 0).output(mnist).unwrap_err();
        assert!(matches!(err, ShapeError::WindowTooLarge { .. }), "{err}");
        assert!(err.to_string().contains("larger than the 28×28 image"));
        // With padding 1 the 30×30 padded image holds a 29×29 filter.
        assert_eq!(window(29, 1, 1).output(mnist), Ok((2, 2)));
        // (28 − 5) / 2 is not whole.
        let err = window(5, 2, 0).output(mnist).unwrap_err();
        assert!(err.to_string().contains("does not divide"), "{err}");
        let err = window(0, 1, 0).output(mnist).unwrap_err();
        assert!(matches!(err, ShapeError::EmptyWindow { .. }));
    }

    #[test]
    fn an_index_is_numpys_row_major_order() {
        let s = Shape::new(2, 3, 4);
        assert_eq!(s.len(), 24);
        assert_eq!(s.index(0, 0, 1), 1);
        assert_eq!(s.index(0, 1, 0), 4);
        assert_eq!(s.index(1, 0, 0), 12);
        assert_eq!(s.index(1, 2, 3), 23);
        // Reshaping keeps every number where the column-major order puts it.
        let m = DMatrix::<f64>::from_fn(2, 6, |r, c| (10 * r + c) as f64);
        let r = reshaped(m.clone(), 4, 3);
        assert_eq!(r.as_slice(), m.as_slice());
        assert_eq!(r[(1, 0)], m[(1, 0)]);
        assert_eq!(r[(0, 1)], m[(0, 2)]);
    }
}
