//! Exercise `mul_add_nodes` (stage 3, chapter "Stage 3: backpropagation",
//! the shopping example). Check it with `cargo xtask exercise mul_add_nodes`.
//!
//! Each node computes forward and, on the way back, multiplies the gradient
//! arriving from above (`dout`) by its own local derivative. The checks run
//! your nodes on the book's graphs: 2 apples at 100 with tax 1.1, then
//! apples and oranges.

/// A multiplication node `z = x · y`. Forward is written; it keeps `x` and `y`.
#[derive(Default)]
pub struct MulLayer {
    pub x: f64,
    pub y: f64,
}

impl MulLayer {
    pub fn forward(&mut self, x: f64, y: f64) -> f64 {
        self.x = x;
        self.y = y;
        x * y
    }

    /// `dout = ∂E/∂z` → `(∂E/∂x, ∂E/∂y)`. Since `∂z/∂x = y` and `∂z/∂y = x`, each
    /// input's gradient is `dout` times the other input.
    pub fn backward(&self, dout: f64) -> (f64, f64) {
        todo!("MulLayer::backward: your code here")
    }
}

/// An addition node `z = x + y`.
pub struct AddLayer;

impl AddLayer {
    pub fn forward(&self, x: f64, y: f64) -> f64 {
        x + y
    }

    /// `dout = ∂E/∂z` → `(∂E/∂x, ∂E/∂y)`. Since `∂z/∂x = ∂z/∂y = 1`.
    pub fn backward(&self, dout: f64) -> (f64, f64) {
        todo!("AddLayer::backward: your code here")
    }
}
