//! # `Dense`: stage 3's `Affine`, on a faster matrix product
//!
//! Stage 4 of the course (chapter 6). Training is now matrix products plus a
//! little glue, so the product decides the speed. Stage 3's
//! [`ch5_backprop::Affine`] calls nalgebra's `gemm` (the `matrixmultiply`
//! crate). This layer is the same layer, with the same formulas and the same
//! [`Layer`] trait, but its three products go to the `gemm` crate, which
//! picks its kernels for the CPU at run time (AVX-512 with the `x86-v4`
//! feature where the CPU has it, AVX2 and FMA otherwise).
//!
//! Why, in numbers (`cargo bench -p ch6-mlp`, group `cpu-time`: the products
//! of one epoch, one thread, CPU time; an AMD EPYC with AVX2 and no AVX-512,
//! shared with other builds): `numpy-mlp`'s products take 385 ms with the
//! `gemm` crate against 404 ms with nalgebra's, `keras`'s 1.45 s against
//! 1.61 s. On CPUs with AVX-512 the gap is wider (149 against 131 GFLOP/s
//! for `128 × 784 × 512`, measured on such a machine). The `gemm` crate can
//! also split one large product over two threads (the `keras` preset's
//! `128 × 784 × 512`), while small batch-32 products stay on one thread.
//!
//! [`matmul`] takes its operands as strided views, so `Xᵀ` and `Wᵀ` are read
//! in place, never copied.

use ch5_backprop::Layer;
use nalgebra::{DMatrix, RealField};
use std::any::TypeId;

/// A matrix operand read in place: `rows × cols` numbers of `data`, entry
/// `(i, j)` at `data[i·row_stride + j·col_stride]`. A stored nalgebra matrix
/// (column-major) has strides `(1, nrows)`; its transpose swaps them.
#[derive(Clone, Copy)]
pub struct Operand<'a, T> {
    data: &'a [T],
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: RealField + Copy> Operand<'a, T> {
    /// The matrix `m` as it is.
    pub fn of(m: &'a DMatrix<T>) -> Operand<'a, T> {
        Operand {
            data: m.as_slice(),
            rows: m.nrows(),
            cols: m.ncols(),
            row_stride: 1,
            col_stride: m.nrows(),
        }
    }

    /// `mᵀ` without copying: the same numbers with the strides swapped.
    pub fn transposed(m: &'a DMatrix<T>) -> Operand<'a, T> {
        Operand {
            data: m.as_slice(),
            rows: m.ncols(),
            cols: m.nrows(),
            row_stride: m.nrows(),
            col_stride: 1,
        }
    }

    /// The last index read plus one; `data` must be at least this long.
    fn extent(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            0
        } else {
            (self.rows - 1) * self.row_stride + (self.cols - 1) * self.col_stride + 1
        }
    }
}

/// Products with fewer multiply-adds than this run on one thread: threads
/// make batch-32 products slower (2.7× for `32 × 784 × 100` with
/// matrixmultiply, measured on a 2-core AVX-512 machine). The `numpy-mlp` preset's
/// largest product has 2.5 M multiply-adds, the `keras` preset's 51 M.
const THREAD_THRESHOLD: usize = 8_000_000;

// ANCHOR: matmul
/// `out = a · b`, or `out += a · b` when `accumulate` (`a: m × k`, `b: k × n`,
/// `out: m × n`), on up to `threads` threads.
///
/// f32 and f64 go to the `gemm` crate; any other scalar to nalgebra's `gemm`.
pub fn matmul<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner sizes differ");
    assert_eq!(out.shape(), (m, n), "matmul: output has the wrong shape");
    assert!(a.data.len() >= a.extent() && b.data.len() >= b.extent());
    let is_f32_or_f64 =
        TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    if !is_f32_or_f64 {
        // A plain triple loop: slow, but correct for any stride. (nalgebra's `gemm`
        // on a row-strided view with a dimension of 5 or less writes out of bounds
        // in nalgebra 0.35, so it is not used on these views.)
        for i in 0..m {
            for j in 0..n {
                let mut sum = T::zero();
                for p in 0..k {
                    sum += a.data[i * a.row_stride + p * a.col_stride]
                        * b.data[p * b.row_stride + j * b.col_stride];
                }
                out[(i, j)] = if accumulate { out[(i, j)] + sum } else { sum };
            }
        }
        return;
    }
    let parallelism = if threads > 1 && m * n * k >= THREAD_THRESHOLD {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let stride = |s: usize| s as isize;
    // SAFETY: T is f32 or f64 (checked above), the only scalars the `gemm`
    // crate is called with here. Every index the product reads,
    // `i·row_stride + j·col_stride` for i < rows, j < cols, is below the
    // operand's extent, asserted to fit its slice; `out` is an `m × n`
    // column-major matrix we hold mutably, so nothing else reads or writes it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            out.as_mut_ptr(),
            stride(m), // out's column stride
            1,         // out's row stride
            accumulate,
            a.data.as_ptr(),
            stride(a.col_stride),
            stride(a.row_stride),
            b.data.as_ptr(),
            stride(b.col_stride),
            stride(b.row_stride),
            T::one(), // out ← 1·out + 1·a·b (out is not read unless accumulate)
            T::one(),
            false,
            false,
            false,
            parallelism,
        );
    }
}
// ANCHOR_END: matmul

/// Makes `buffer` an `rows × cols` matrix, allocating only when its shape
/// changes (training batches vs. an evaluation chunk), never in the steady state.
fn fit<T: RealField + Copy>(buffer: &mut DMatrix<T>, rows: usize, cols: usize) {
    if buffer.shape() != (rows, cols) {
        *buffer = DMatrix::zeros(rows, cols);
    }
}

// ANCHOR: dense
/// The fully connected layer `Y = X·W + b`, as stage 3's `Affine`.
///
/// Shapes: `x: N × n_in`, `W: n_in × n_out`, `b: 1 × n_out`, `y: N × n_out`.
/// Backward from `dY: N × n_out`: `dX = dY · Wᵀ`, `dW = Xᵀ · dY`,
/// `db = Σ_rows dY` (derived in stage 3's `Affine`).
pub struct Dense<T: RealField + Copy> {
    /// Weights `W: n_in × n_out`.
    pub w: DMatrix<T>,
    /// Bias `b: 1 × n_out`.
    pub b: DMatrix<T>,
    /// `∂E/∂W` from the last backward.
    pub grad_w: DMatrix<T>,
    /// `∂E/∂b` from the last backward.
    pub grad_b: DMatrix<T>,
    /// Threads a large product may use (1: never split).
    pub threads: usize,
    x: DMatrix<T>,
    y: DMatrix<T>,
    dx: DMatrix<T>,
}
// ANCHOR_END: dense

impl<T: RealField + Copy> Dense<T> {
    /// A layer with the given weights `w: n_in × n_out` and bias `b: 1 × n_out`.
    pub fn from_parameters(w: DMatrix<T>, b: DMatrix<T>) -> Dense<T> {
        assert_eq!(b.shape(), (1, w.ncols()), "b must be 1 × n_out");
        let (n_in, n_out) = w.shape();
        Dense {
            grad_w: DMatrix::zeros(n_in, n_out),
            grad_b: DMatrix::zeros(1, n_out),
            threads: 1,
            x: DMatrix::zeros(0, n_in),
            y: DMatrix::zeros(0, n_out),
            dx: DMatrix::zeros(0, n_in),
            w,
            b,
        }
    }
}

impl<T: RealField + Copy> Layer<T> for Dense<T> {
    // ANCHOR: dense_forward
    fn forward(&mut self, x: &DMatrix<T>) -> &DMatrix<T> {
        assert_eq!(x.ncols(), self.w.nrows(), "Dense: x must have n_in columns");
        // Backward needs X for dW = Xᵀ·dY: keep a copy (the trait lends x only for this call).
        fit(&mut self.x, x.nrows(), x.ncols());
        self.x.as_mut_slice().copy_from_slice(x.as_slice());
        // y = b in every row, then y += x·W in place.
        fit(&mut self.y, x.nrows(), self.w.ncols());
        for (j, mut column) in self.y.column_iter_mut().enumerate() {
            column.fill(self.b[j]);
        }
        matmul(
            &mut self.y,
            Operand::of(x),
            Operand::of(&self.w),
            true,
            self.threads,
        );
        &self.y
    }
    // ANCHOR_END: dense_forward

    // ANCHOR: dense_backward
    fn backward(&mut self, dy: &DMatrix<T>) -> &DMatrix<T> {
        self.backward_params(dy);
        // dX = dY · Wᵀ
        fit(&mut self.dx, dy.nrows(), self.w.nrows());
        matmul(
            &mut self.dx,
            Operand::of(dy),
            Operand::transposed(&self.w),
            false,
            self.threads,
        );
        &self.dx
    }

    fn backward_params(&mut self, dy: &DMatrix<T>) {
        assert_eq!(
            dy.shape(),
            self.y.shape(),
            "Dense: dy must match the last output"
        );
        // dW = Xᵀ · dY
        matmul(
            &mut self.grad_w,
            Operand::transposed(&self.x),
            Operand::of(dy),
            false,
            self.threads,
        );
        // db = Σ_rows dY
        for (j, column) in dy.column_iter().enumerate() {
            self.grad_b[j] = column.sum();
        }
    }
    // ANCHOR_END: dense_backward

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        visit(&mut self.w, &self.grad_w);
        visit(&mut self.b, &self.grad_b);
    }

    fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }

    fn name(&self) -> String {
        format!("Dense {}→{}", self.w.nrows(), self.w.ncols())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::Affine;
    use ch5_backprop::gradient_check::check_layer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(0.0, 1.0).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    #[test]
    fn matmul_matches_nalgebra_for_every_transposition() {
        let mut rng = StdRng::seed_from_u64(1);
        let (m, k, n) = (7, 5, 3);
        let a = random(m, k, &mut rng);
        let at = a.transpose();
        let b = random(k, n, &mut rng);
        let bt = b.transpose();
        let expected = &a * &b;
        for (lhs, rhs) in [
            (Operand::of(&a), Operand::of(&b)),
            (Operand::transposed(&at), Operand::of(&b)),
            (Operand::of(&a), Operand::transposed(&bt)),
            (Operand::transposed(&at), Operand::transposed(&bt)),
        ] {
            let mut out = DMatrix::zeros(m, n);
            matmul(&mut out, lhs, rhs, false, 1);
            assert!((&out - &expected).amax() < 1e-12);
            // accumulate adds the product to what is there
            matmul(&mut out, lhs, rhs, true, 2);
            assert!((&out - &expected * 2.0).amax() < 1e-12);
        }
        // f32 goes through the same kernels
        let (a32, b32) = (a.cast::<f32>(), b.cast::<f32>());
        let mut out = DMatrix::zeros(m, n);
        matmul(&mut out, Operand::of(&a32), Operand::of(&b32), false, 1);
        assert!((out.cast::<f64>() - expected).amax() < 1e-5);
    }

    #[test]
    fn dense_gradients_match_the_numerical_ones_in_f64() {
        let mut rng = StdRng::seed_from_u64(2);
        for (n, n_in, n_out) in [(1, 4, 3), (6, 5, 7), (3, 9, 2)] {
            let mut layer =
                Dense::from_parameters(random(n_in, n_out, &mut rng), random(1, n_out, &mut rng));
            let x = random(n, n_in, &mut rng);
            let g = random(n, n_out, &mut rng);
            let check = check_layer(&mut layer, &x, &g);
            assert!(check.max() < 1e-8, "{n}×{n_in}→{n_out}: {check:?}");
        }
    }

    #[test]
    fn dense_agrees_with_stage_3_affine() {
        // Every size above 5: nalgebra 0.35's `gemm` (which `Affine` calls) on a
        // transposed view with a size of 5 or less writes out of bounds.
        let mut rng = StdRng::seed_from_u64(3);
        let w = random(9, 6, &mut rng);
        let b = random(1, 6, &mut rng);
        let x = random(7, 9, &mut rng);
        let dy = random(7, 6, &mut rng);
        let mut dense = Dense::from_parameters(w.clone(), b.clone());
        let mut affine = Affine::from_parameters(w, b);
        let y = dense.forward(&x).clone();
        assert!((y - affine.forward(&x)).amax() < 1e-12);
        let dx = dense.backward(&dy).clone();
        assert!((dx - affine.backward(&dy)).amax() < 1e-12);
        assert!((&dense.grad_w - &affine.grad_w).amax() < 1e-12);
        assert!((&dense.grad_b - &affine.grad_b).amax() < 1e-12);
    }
}
