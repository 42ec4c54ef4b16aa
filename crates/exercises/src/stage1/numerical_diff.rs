//! Exercise `numerical_diff` (stage 1, chapter "Stage 1: one layer, numerical
//! gradients"). Check it with `cargo xtask exercise numerical_diff`.

/// The step of the difference.
pub const H: f64 = 1e-4;

/// The derivative of `f` at `x` by the central difference
/// `f'(x) ≈ (f(x + h) − f(x − h)) / 2h`, with `h = H`.
///
/// Why central: its error is O(h²), the one-sided `(f(x + h) − f(x)) / h`'s is O(h).
pub fn numerical_diff(f: impl Fn(f64) -> f64, x: f64) -> f64 {
    todo!("numerical_diff: your code here")
}
