//! Exercise `col2im` (stage 6, chapter "Stage 6: convolution and pooling",
//! section "im2col: a convolution as one matrix product"). Check it with
//! `cargo xtask exercise col2im`.

use ch7_cnn::layout::{Shape, Window};
use nalgebra::DMatrix;

/// The backward of im2col: adds every entry of `dcol: (OH·OW·N) × (C·FH·FW)`
/// to the pixel of `dx: N × (C·H·W)` it was copied from, and drops the entries
/// that came from the padding.
///
/// The layout is im2col's (see the `im2col` exercise): row `(oh·OW + ow)·N + n`,
/// column `(c·FH + i)·FW + j` of `dcol` came from image `n`'s pixel
/// `(oh·s + i − p, ow·s + j − p)` of channel `c`, which is
/// `dx[(n, input.index(c, h, w))]`. `N = dcol.nrows() / (OH·OW)`.
///
/// Where patches overlap (stride smaller than the window) a pixel was copied
/// into several rows, so it collects one number from each. `dx` may hold
/// other numbers, or have another shape: start it at `N × (C·H·W)` zeros.
pub fn col2im(
    dcol: &DMatrix<f64>,
    input: Shape,
    window: &Window,
    positions: (usize, usize),
    dx: &mut DMatrix<f64>,
) {
    todo!("col2im: your code here")
}
