//! Exercise `relu_backward` (stage 3, chapter "Stage 3: backpropagation").
//! Check it with `cargo xtask exercise relu_backward`.

use ch5_backprop::Layer;
use nalgebra::DMatrix;

/// The rectified linear unit, entry by entry: `y = max(0, x)`. Forward is
/// written and keeps its input.
pub struct Relu {
    pub x: DMatrix<f64>,
}

impl Relu {
    pub fn new() -> Relu {
        Relu {
            x: DMatrix::zeros(0, 0),
        }
    }
}

impl Default for Relu {
    fn default() -> Relu {
        Relu::new()
    }
}

impl Layer<f64> for Relu {
    fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
        self.x = x.clone();
        x.map(|v| if v > 0.0 { v } else { 0.0 })
    }

    /// `dy = ∂E/∂Y` → `∂E/∂X`, same shape. The slope of `max(0, x)` is 1
    /// where `x > 0` and 0 elsewhere (take 0 at `x = 0`, as the course does).
    ///
    /// Hint: `dy.zip_map(&self.x, |dy, x| ...)`.
    fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
        todo!("Relu::backward: your code here")
    }

    fn name(&self) -> String {
        "ReLU".into()
    }
}
