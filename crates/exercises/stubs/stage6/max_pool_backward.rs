//! Exercise `max_pool_backward` (stage 6, chapter "Stage 6: convolution and
//! pooling", section "Max pooling"). Check it with
//! `cargo xtask exercise max_pool_backward`.
//!
//! Max pooling, written plainly: the forward is written; you write backward.

use ch5_backprop::Layer;
use ch7_cnn::layout::{Shape, ShapeError, Window};
use nalgebra::DMatrix;

/// Max pooling with `pool_h × pool_w` windows moved by `stride` (no padding)
/// over stacks of feature maps of `input = C × H × W`:
/// `y[n, c, oh, ow] = max_{i,j} x[n, c, oh·s + i, ow·s + j]`.
/// Shapes: `x: N × (C·H·W)` in, `y: N × (C·OH·OW)` out; pixel `(c, h, w)` is
/// column `input.index(c, h, w)`, output `(c, oh, ow)` column `output.index(c, oh, ow)`.
pub struct MaxPooling {
    pub input: Shape,
    pub window: Window,
    /// `OH × OW`.
    pub positions: (usize, usize),
    /// The input of the last forward, `N × (C·H·W)`.
    pub x: DMatrix<f64>,
}

impl MaxPooling {
    pub fn new(
        input: Shape,
        pool_h: usize,
        pool_w: usize,
        stride: usize,
    ) -> Result<MaxPooling, ShapeError> {
        let window = Window {
            height: pool_h,
            width: pool_w,
            stride,
            pad: 0,
        };
        Ok(MaxPooling {
            positions: window.output(input)?,
            input,
            window,
            x: DMatrix::zeros(0, 0),
        })
    }

    /// The shape of one output: `C × OH × OW`.
    pub fn output(&self) -> Shape {
        Shape::new(self.input.channels, self.positions.0, self.positions.1)
    }
}

impl Layer<f64> for MaxPooling {
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        let (out, s) = (self.output(), self.window.stride);
        let mut y = DMatrix::zeros(x.nrows(), out.len());
        for n in 0..x.nrows() {
            for c in 0..out.channels {
                for oh in 0..out.height {
                    for ow in 0..out.width {
                        let mut best = f64::NEG_INFINITY;
                        for i in 0..self.window.height {
                            for j in 0..self.window.width {
                                let v = x[(n, self.input.index(c, oh * s + i, ow * s + j))];
                                if v > best {
                                    best = v;
                                }
                            }
                        }
                        y[(n, out.index(c, oh, ow))] = best;
                    }
                }
            }
        }
        self.x = x.clone();
        y
    }

    /// From `dy = ∂E/∂Y: N × (C·OH·OW)`, return `∂E/∂X: N × (C·H·W)`.
    ///
    /// Each `y` is one of its window's inputs, so `∂y/∂x` is 1 for that input
    /// (the maximum, found again in `self.x`) and 0 for the others. Where
    /// windows overlap an input can be the maximum of several. When several
    /// inputs of a window are equal and largest, forward kept the first (in
    /// the window, row by row: its `v > best`); send `dY` to that one.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("MaxPooling::backward: your code here")
    }

    fn name(&self) -> String {
        let w = &self.window;
        format!("MaxPooling {}×{}, stride {}", w.height, w.width, w.stride)
    }
}
