//! # The whole backward pass, once, by hand
//!
//! Stage 3 of the course (chapter 5), before the [`Layer`](crate::Layer)
//! trait. Stage 2's network, `y = softmax(σ(X·W1 + 1·b1)·W2 + 1·b2)` with
//! mean cross-entropy, differentiated by the chain rule as a handful of
//! matrix lines, each with its shape. Whoever has read these lines can write
//! backpropagation for a new two-layer network; the layers then generalise
//! them, one `forward` and one `backward` per line pair.
//!
//! `tests/stage2_check.rs` checks it against stage 2's numerical gradient.

use nalgebra::DMatrix;

use crate::loss::softmax;

/// `∂E/∂W1, ∂E/∂b1, ∂E/∂W2, ∂E/∂b2`, shaped like the parameters.
#[derive(Clone, Debug)]
pub struct TwoLayerGradient {
    pub w1: DMatrix<f64>,
    pub b1: DMatrix<f64>,
    pub w2: DMatrix<f64>,
    pub b2: DMatrix<f64>,
}

// ANCHOR: by_hand
/// The gradient of stage 2's network at inputs `x: N × 784` and one-hot
/// targets `t: N × 10`, with `W1: 784 × 50`, `b1: 1 × 50`, `W2: 50 × 10`,
/// `b2: 1 × 10` (any sizes that fit). `1` is the `N × 1` column of ones.
pub fn two_layer_gradient(
    x: &DMatrix<f64>,
    t: &DMatrix<f64>,
    (w1, b1): (&DMatrix<f64>, &DMatrix<f64>),
    (w2, b2): (&DMatrix<f64>, &DMatrix<f64>),
) -> TwoLayerGradient {
    let n = x.nrows() as f64;
    let ones = DMatrix::from_element(x.nrows(), 1, 1.0);

    // Forward, keeping what backward needs.
    // A1 = X·W1 + 1·b1                               N × 50
    let a1 = x * w1 + &ones * b1;
    // Z1 = σ(A1)                                     N × 50
    let z1 = a1.map(|a| 1.0 / (1.0 + (-a).exp()));
    // A2 = Z1·W2 + 1·b2                              N × 10
    let a2 = &z1 * w2 + &ones * b2;
    // Y = softmax(A2)                                N × 10
    let y = softmax(&a2);

    // Backward, from the loss down.
    // dA2 = (Y − T)/N                                N × 10
    let da2 = (y - t) / n;
    // dW2 = Z1ᵀ·dA2                                  50 × 10
    let dw2 = z1.transpose() * &da2;
    // db2 = 1ᵀ·dA2                                   1 × 10
    let db2 = ones.transpose() * &da2;
    // dZ1 = dA2·W2ᵀ                                  N × 50
    let dz1 = &da2 * w2.transpose();
    // dA1 = Z1 ⊙ (1 − Z1) ⊙ dZ1, since σ' = σ(1 − σ)   N × 50
    let da1 = z1.zip_map(&dz1, |z, dz| z * (1.0 - z) * dz);
    // dW1 = Xᵀ·dA1                                   784 × 50
    let dw1 = x.transpose() * &da1;
    // db1 = 1ᵀ·dA1                                   1 × 50
    let db1 = ones.transpose() * &da1;

    TwoLayerGradient {
        w1: dw1,
        b1: db1,
        w2: dw2,
        b2: db2,
    }
}
// ANCHOR_END: by_hand
