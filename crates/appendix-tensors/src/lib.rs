//! # Appendix A: tensors, shapes and broadcasting, in nalgebra terms
//!
//! The book's appendix includes this file. Every operation the stages use is
//! written twice: once as the plain loops a learner would write first, once
//! as nalgebra does it. Tests check the two agree; the bench
//! (`cargo bench -p appendix-tensors`) measures how far apart they are, which
//! is why the stages use the library.
//!
//! Conventions, the same as the stages and as NumPy's `x[n, j]`:
//! - a batch is a matrix `x: n × d`, one example per **row** (axis 0 = the
//!   batch, axis 1 = the features);
//! - nalgebra stores a `DMatrix` **column by column** (column-major), so
//!   walking down a column is walking through memory in order.

use nalgebra::{DMatrix, RowDVector};

// ANCHOR: relu_naive
/// ReLU element by element: `y_ij = max(0, x_ij)`, `x: n × d → y: n × d`.
pub fn relu_naive(x: &DMatrix<f32>) -> DMatrix<f32> {
    let (n, d) = x.shape();
    let mut y = DMatrix::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            y[(i, j)] = if x[(i, j)] > 0.0 { x[(i, j)] } else { 0.0 };
        }
    }
    y
}
// ANCHOR_END: relu_naive

// ANCHOR: relu_nalgebra
/// ReLU with nalgebra: `map` applies a function to every element, in memory order.
pub fn relu_nalgebra(x: &DMatrix<f32>) -> DMatrix<f32> {
    x.map(|v| v.max(0.0))
}
// ANCHOR_END: relu_nalgebra

// ANCHOR: add_naive
/// Element-wise sum `c_ij = a_ij + b_ij` of two matrices of the same shape.
pub fn add_naive(a: &DMatrix<f32>, b: &DMatrix<f32>) -> DMatrix<f32> {
    assert_eq!(a.shape(), b.shape(), "element-wise add needs equal shapes");
    let (n, d) = a.shape();
    let mut c = DMatrix::zeros(n, d);
    for i in 0..n {
        for j in 0..d {
            c[(i, j)] = a[(i, j)] + b[(i, j)];
        }
    }
    c
}
// ANCHOR_END: add_naive

// ANCHOR: add_nalgebra
/// Element-wise sum with nalgebra: `+` on matrices of the same shape (it
/// panics on a shape mismatch, as NumPy raises).
pub fn add_nalgebra(a: &DMatrix<f32>, b: &DMatrix<f32>) -> DMatrix<f32> {
    a + b
}
// ANCHOR_END: add_nalgebra

// ANCHOR: elementwise_product
/// Element-wise (Hadamard) product `c_ij = a_ij · b_ij`, NumPy's `a * b`.
/// In nalgebra `*` is the matrix product, so this one has its own name.
pub fn elementwise_product(a: &DMatrix<f32>, b: &DMatrix<f32>) -> DMatrix<f32> {
    a.component_mul(b)
}
// ANCHOR_END: elementwise_product

// ANCHOR: matmul_naive
/// Matrix product `c_ij = Σ_k a_ik · b_kj`, `a: n × m`, `b: m × p → c: n × p`:
/// one dot product of a row of `a` with a column of `b` per output element.
pub fn matmul_naive(a: &DMatrix<f32>, b: &DMatrix<f32>) -> DMatrix<f32> {
    let (n, m) = a.shape();
    let (m2, p) = b.shape();
    assert_eq!(m, m2, "matrix product needs a: n × m and b: m × p");
    let mut c = DMatrix::zeros(n, p);
    for i in 0..n {
        for j in 0..p {
            let mut sum = 0.0;
            for k in 0..m {
                sum += a[(i, k)] * b[(k, j)];
            }
            c[(i, j)] = sum;
        }
    }
    c
}
// ANCHOR_END: matmul_naive

// ANCHOR: matmul_nalgebra
/// Matrix product with nalgebra: `*` calls a blocked, vectorised kernel
/// (the `matrixmultiply` crate for large matrices).
pub fn matmul_nalgebra(a: &DMatrix<f32>, b: &DMatrix<f32>) -> DMatrix<f32> {
    a * b
}
// ANCHOR_END: matmul_nalgebra

// ANCHOR: add_bias_naive
/// Broadcasting a bias over the batch: `y_ij = x_ij + b_j`, `x: n × d`,
/// `b: 1 × d`. NumPy writes `x + b` and stretches `b` down the rows.
pub fn add_bias_naive(x: &DMatrix<f32>, b: &RowDVector<f32>) -> DMatrix<f32> {
    let (n, d) = x.shape();
    assert_eq!(b.len(), d, "bias needs one entry per column of x");
    let mut y = x.clone();
    for i in 0..n {
        for j in 0..d {
            y[(i, j)] += b[j];
        }
    }
    y
}
// ANCHOR_END: add_bias_naive

// ANCHOR: add_bias_nalgebra
/// The same broadcast with nalgebra, which does not stretch shapes by
/// itself: add `b_j` to all of column `j`. Walking column by column follows
/// nalgebra's memory order.
pub fn add_bias_nalgebra(x: &DMatrix<f32>, b: &RowDVector<f32>) -> DMatrix<f32> {
    assert_eq!(b.len(), x.ncols(), "bias needs one entry per column of x");
    let mut y = x.clone();
    for (mut column, &bias) in y.column_iter_mut().zip(b.iter()) {
        column.add_scalar_mut(bias);
    }
    y
}
// ANCHOR_END: add_bias_nalgebra

// ANCHOR: sum_over_batch
/// Summing over the batch axis (NumPy's `np.sum(dy, axis=0)`): `x: n × d → 1 × d`,
/// `s_j = Σ_i x_ij`. This is how a bias gradient `db = Σ dY` is computed.
pub fn sum_over_batch_naive(x: &DMatrix<f32>) -> RowDVector<f32> {
    let (n, d) = x.shape();
    let mut s = RowDVector::zeros(d);
    for j in 0..d {
        for i in 0..n {
            s[j] += x[(i, j)];
        }
    }
    s
}

/// The same with nalgebra: `row_sum` adds up all rows into one row.
pub fn sum_over_batch_nalgebra(x: &DMatrix<f32>) -> RowDVector<f32> {
    x.row_sum()
}
// ANCHOR_END: sum_over_batch

/// A deterministic test matrix with entries in `[-1, 1)`, without a random
/// number generator (a simple integer hash of the position).
pub fn example_matrix(n: usize, d: usize, seed: u32) -> DMatrix<f32> {
    DMatrix::from_fn(n, d, |i, j| {
        let mut h = (i as u32)
            .wrapping_mul(0x9E37_79B9)
            .wrapping_add((j as u32).wrapping_mul(0x85EB_CA6B))
            .wrapping_add(seed.wrapping_mul(0xC2B2_AE35));
        h ^= h >> 15;
        h = h.wrapping_mul(0x2C1B_3C6D);
        h ^= h >> 12;
        (h % 2001) as f32 / 1000.0 - 1.0
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn relu_and_add_agree_exactly() {
        let a = example_matrix(7, 5, 1);
        let b = example_matrix(7, 5, 2);
        assert_eq!(relu_naive(&a), relu_nalgebra(&a));
        assert_eq!(add_naive(&a, &b), add_nalgebra(&a, &b));
        assert!(relu_nalgebra(&a).iter().all(|&v| v >= 0.0));
        // Some entries are negative, so ReLU really changed something.
        assert!(a.iter().any(|&v| v < 0.0));
    }

    #[test]
    fn matmul_agrees_up_to_rounding_and_has_the_right_shape() {
        let a = example_matrix(100, 784, 3);
        let b = example_matrix(784, 50, 4);
        let naive = matmul_naive(&a, &b);
        let fast = matmul_nalgebra(&a, &b);
        assert_eq!(naive.shape(), (100, 50));
        // The two sum in different orders; 784 products of size ≤ 1 in f32.
        let worst = (&naive - &fast).amax();
        assert!(worst < 1e-3, "largest difference {worst}");
    }

    #[test]
    fn a_tiny_product_by_hand() {
        // [1 2; 3 4] · [5; 6] = [17; 39]
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        let b = DMatrix::from_row_slice(2, 1, &[5.0, 6.0]);
        assert_eq!(matmul_naive(&a, &b).as_slice(), &[17.0, 39.0]);
        assert_eq!(matmul_nalgebra(&a, &b).as_slice(), &[17.0, 39.0]);
    }

    #[test]
    fn broadcast_bias_and_batch_sum_agree() {
        let x = example_matrix(6, 4, 5);
        let b = RowDVector::from_row_slice(&[1.0, -2.0, 0.5, 0.0]);
        let y = add_bias_naive(&x, &b);
        assert_eq!(y, add_bias_nalgebra(&x, &b));
        assert_eq!(y[(3, 1)], x[(3, 1)] - 2.0);
        let s = sum_over_batch_naive(&x);
        let t = sum_over_batch_nalgebra(&x);
        assert_eq!(s.shape(), (1, 4));
        assert!((s - t).amax() < 1e-6);
    }

    #[test]
    fn elementwise_product_is_not_the_matrix_product() {
        let a = DMatrix::from_row_slice(2, 2, &[1.0, 2.0, 3.0, 4.0]);
        assert_eq!(
            elementwise_product(&a, &a).as_slice(),
            &[1.0, 9.0, 4.0, 16.0]
        );
        assert_eq!((&a * &a).as_slice(), &[7.0, 15.0, 10.0, 22.0]);
    }

    proptest! {
        #[test]
        fn naive_equals_nalgebra_on_any_shape(n in 1usize..12, m in 1usize..12, p in 1usize..12, seed in 0u32..1000) {
            let a = example_matrix(n, m, seed);
            let b = example_matrix(m, p, seed + 1);
            let c = example_matrix(n, m, seed + 2);
            prop_assert_eq!(relu_naive(&a), relu_nalgebra(&a));
            prop_assert_eq!(add_naive(&a, &c), add_nalgebra(&a, &c));
            let diff = (matmul_naive(&a, &b) - matmul_nalgebra(&a, &b)).amax();
            prop_assert!(diff < 1e-5, "matmul differs by {}", diff);
        }
    }
}
