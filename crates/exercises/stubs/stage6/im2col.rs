//! Exercise `im2col` (stage 6, chapter "Stage 6: convolution and pooling",
//! section "im2col: a convolution as one matrix product"). Check it with
//! `cargo xtask exercise im2col`.

use ch7_cnn::layout::{Shape, Window};
use nalgebra::DMatrix;

/// Unrolls every window-sized patch of the batch `x: N × (C·H·W)` into a row
/// of `col: (OH·OW·N) × (C·FH·FW)`, with the course's layout
/// (`crates/ch7-cnn/src/layout.rs`):
///
/// - image `n`'s pixel `(h, w)` of channel `c` is `x[(n, input.index(c, h, w))]`,
///   where `input.index(c, h, w) = (c·H + h)·W + w`;
/// - **row `(oh·OW + ow)·N + n`** of `col` is the patch of image `n` under
///   output position `(oh, ow)` (the images come fastest, unlike the book);
/// - **column `(c·FH + i)·FW + j`** is the patch's pixel `(i, j)` of channel `c`,
///   which is the image's pixel `(oh·s + i − p, ow·s + j − p)` with
///   `s = window.stride`, `p = window.pad`, and 0 where that falls in the padding.
///
/// `(OH, OW) = positions` (`window.output(input)`), `FH × FW =
/// window.height × window.width`. `col` may hold other numbers, or have
/// another shape: give it the right shape (`*col = DMatrix::zeros(rows, cols)`)
/// and write every entry. Watch the subtraction `− p`: on `usize` it
/// underflows; `checked_sub` gives `None` in the padding.
pub fn im2col(
    x: &DMatrix<f64>,
    input: Shape,
    window: &Window,
    positions: (usize, usize),
    col: &mut DMatrix<f64>,
) {
    todo!("im2col: your code here")
}
