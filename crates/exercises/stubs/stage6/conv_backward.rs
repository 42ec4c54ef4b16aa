//! Exercise `conv_backward` (stage 6, chapter "Stage 6: convolution and
//! pooling", section "The convolution layer"). Check it with
//! `cargo xtask exercise conv_backward`.
//!
//! The convolution layer on im2col, written plainly: the forward is
//! written; you write backward. `im2col` and `col2im` are the course's.

use ch5_backprop::Layer;
use ch7_cnn::im2col::{col2im, im2col};
use ch7_cnn::layout::{Shape, ShapeError, Window, reshaped};
use nalgebra::DMatrix;

/// `FN` filters of `C × FH × FW` over images of `input = C × H × W`:
/// `Y = col · W + 1·b` with `col = im2col(x): (OH·OW·N) × (C·FH·FW)`,
/// `W: (C·FH·FW) × FN` (filter `f` in column `f`), `b: 1 × FN`.
///
/// Shapes: `x: N × (C·H·W)` in, `y: N × (FN·OH·OW)` out. The product
/// `col · W: (OH·OW·N) × FN` already IS `y`, number for number in nalgebra's
/// column-by-column storage: `reshaped` turns one into the other without
/// moving a number (see `crates/ch7-cnn/src/layout.rs`).
pub struct Convolution {
    pub input: Shape,
    pub window: Window,
    /// `OH × OW`.
    pub positions: (usize, usize),
    pub w: DMatrix<f64>,
    pub b: DMatrix<f64>,
    /// `∂E/∂W` (`(C·FH·FW) × FN`), set by backward.
    pub grad_w: DMatrix<f64>,
    /// `∂E/∂b` (`1 × FN`), set by backward.
    pub grad_b: DMatrix<f64>,
    /// The patches of the last forward, `(OH·OW·N) × (C·FH·FW)`.
    pub col: DMatrix<f64>,
}

impl Convolution {
    /// A layer with filters `w: (C·FH·FW) × FN` and biases `b: 1 × FN`, or
    /// why `window` does not fit `input`.
    pub fn from_parameters(
        input: Shape,
        window: Window,
        w: DMatrix<f64>,
        b: DMatrix<f64>,
    ) -> Result<Convolution, ShapeError> {
        Ok(Convolution {
            positions: window.output(input)?,
            grad_w: DMatrix::zeros(w.nrows(), w.ncols()),
            grad_b: DMatrix::zeros(1, w.ncols()),
            col: DMatrix::zeros(0, 0),
            input,
            window,
            w,
            b,
        })
    }

    /// `FN`, the number of filters.
    pub fn filters(&self) -> usize {
        self.w.ncols()
    }
}

impl Layer<f64> for Convolution {
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        im2col(x, self.input, &self.window, self.positions, &mut self.col);
        let ones = DMatrix::from_element(self.col.nrows(), 1, 1.0);
        let y = &self.col * &self.w + ones * &self.b; // (OH·OW·N) × FN
        let (oh, ow) = self.positions;
        reshaped(y, x.nrows(), self.filters() * oh * ow) // N × (FN·OH·OW)
    }

    /// From `dy = ∂E/∂Y: N × (FN·OH·OW)`: store `self.grad_w = ∂E/∂W` and
    /// `self.grad_b = ∂E/∂b`, and return `∂E/∂X: N × (C·H·W)`.
    ///
    /// Read `dy` in the shape of `col · W` first (`reshaped(dy.clone(), rows,
    /// FN)`): then `Y = col · W + 1·b` is stage 3's `Affine` on the patches,
    /// and its backward is `Affine`'s, which gives `∂E/∂col`; a pixel reached
    /// `col` through im2col, so `col2im` (`col2im(&dcol, self.input,
    /// &self.window, self.positions, &mut dx)`) takes `∂E/∂col` back to the pixels.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("Convolution::backward: your code here")
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
        visit(&mut self.w, &self.grad_w);
        visit(&mut self.b, &self.grad_b);
    }

    fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }

    fn name(&self) -> String {
        format!("Convolution of {} filters", self.filters())
    }
}
