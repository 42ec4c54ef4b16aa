//! # `Dense`: stage 3's `Affine`, engineered
//!
//! Stage 4 of the course (chapter 6): the engine. Training is now matrix
//! products plus a little glue, so the products decide the speed. Stage 3's
//! [`ch5_backprop::Affine`] writes `X·W + 1·b`, `Xᵀ·dY`, `dY·Wᵀ` and `1ᵀ·dY`
//! as nalgebra expressions, each allocating its result and copying each
//! transpose. `Dense` computes the very same numbers with three devices:
//! - its output and gradient buffers are kept from step to step, so a
//!   training step allocates nothing of its own ([`resize_buffer`] sizes them when the batch size
//!   changes);
//! - `Xᵀ` and `Wᵀ` are read in place as strided [`Operand`]s, never copied,
//!   and the input `X` is not copied either: the caller hands it to backward;
//! - the products are the engine's ([`Kernel::Engine`]): the register
//!   tiles of [`crate::engine::tiles`] for the short sums they suit, the
//!   `gemm` crate for every other, which picks its kernels for the CPU at
//!   run time (AVX-512 where the CPU has it, AVX2 and FMA otherwise) and can
//!   split a large product over threads. [`Kernel::Nalgebra`] keeps
//!   nalgebra's own product, as stage 3, to measure the difference.
//!
//! `tests` check `Dense` against stage 3's `Affine` on the same numbers.

use nalgebra::{DMatrix, DMatrixView, Dyn, RealField};
use std::any::TypeId;

use crate::engine::tiles;

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

    /// The first `rows · cols` numbers of `data` read as a column-major
    /// `rows × cols` matrix: a stored matrix seen in another shape without a
    /// copy (stage 6 reads its `N × (C·H·W)` batches as `(H·W·N) × C`).
    pub fn column_major(data: &'a [T], rows: usize, cols: usize) -> Operand<'a, T> {
        assert!(data.len() >= rows * cols, "Operand: too few numbers");
        Operand {
            data,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }

    /// `column_major(data, rows, cols)ᵀ` without a copy.
    pub fn column_major_transposed(data: &'a [T], rows: usize, cols: usize) -> Operand<'a, T> {
        assert!(data.len() >= rows * cols, "Operand: too few numbers");
        Operand {
            data,
            rows: cols,
            cols: rows,
            row_stride: rows,
            col_stride: 1,
        }
    }

    /// This operand's transpose, in place: the strides swapped.
    pub fn t(self) -> Operand<'a, T> {
        Operand {
            rows: self.cols,
            cols: self.rows,
            row_stride: self.col_stride,
            col_stride: self.row_stride,
            ..self
        }
    }

    /// The same numbers as a nalgebra view.
    fn view(&self) -> DMatrixView<'a, T, Dyn, Dyn> {
        DMatrixView::from_slice_with_strides(
            self.data,
            self.rows,
            self.cols,
            self.row_stride,
            self.col_stride,
        )
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
/// make small products slower (starting them costs more than they save).
/// The `numpy-mlp` preset's largest product has 2.5 M multiply-adds, the
/// `keras` preset's 51 M.
const THREAD_THRESHOLD: usize = 8_000_000;

/// Which code computes a layer's matrix products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kernel {
    /// nalgebra's `gemm` (the `matrixmultiply` crate), as stage 3.
    Nalgebra,
    /// The engine's: the register tiles where they apply (f32, a sum of at
    /// most 64 terms, the left factor stored column after column, an AVX2
    /// CPU, and `Device::RegisterTiles` on), the `gemm` crate for every other
    /// product, a large one split over up to `threads` threads.
    Engine { threads: usize },
}

// ANCHOR: matmul
/// `out = a · b`, or `out += a · b` when `accumulate` (`a: m × k`, `b: k × n`,
/// `out: m × n`), by `kernel`. Scalars other than f32 and f64 take a plain
/// triple loop.
pub fn matmul<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    accumulate: bool,
    kernel: Kernel,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul: inner sizes differ");
    assert_eq!(out.shape(), (m, n), "matmul: output has the wrong shape");
    assert!(a.data.len() >= a.extent() && b.data.len() >= b.extent());
    let is_f32_or_f64 =
        TypeId::of::<T>() == TypeId::of::<f32>() || TypeId::of::<T>() == TypeId::of::<f64>();
    match kernel {
        _ if !is_f32_or_f64 => triple_loop(out, a, b, accumulate),
        Kernel::Nalgebra => nalgebra_matmul_avoiding_small_view_bug(out, a, b, accumulate),
        Kernel::Engine { threads } => engine_product(out, a, b, accumulate, threads),
    }
}
// ANCHOR_END: matmul

/// `out (+)= a · b` entry by entry: slow, but correct for any scalar and stride.
fn triple_loop<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    accumulate: bool,
) {
    for i in 0..a.rows {
        for j in 0..b.cols {
            let mut sum = T::zero();
            for p in 0..a.cols {
                sum += a.data[i * a.row_stride + p * a.col_stride]
                    * b.data[p * b.row_stride + j * b.col_stride];
            }
            out[(i, j)] = if accumulate { out[(i, j)] + sum } else { sum };
        }
    }
}

/// nalgebra's `gemm` on strided views. nalgebra 0.35 hands products with a
/// dimension of 5 or less to its own loops, and those misread a view with a
/// row stride (such as a transpose) as the left factor, out of bounds; such
/// small products take [`triple_loop`] instead.
fn nalgebra_matmul_avoiding_small_view_bug<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    accumulate: bool,
) {
    if a.rows.min(a.cols).min(b.cols) <= 5 {
        return triple_loop(out, a, b, accumulate);
    }
    let beta = if accumulate { T::one() } else { T::zero() };
    out.gemm(T::one(), &a.view(), &b.view(), beta);
}

/// `out = a · b` by [`tiles::product`] where it applies (`f32`, `a` stored
/// column after column, sums of at most [`tiles::MAX_K`] terms, a CPU with
/// AVX2 and FMA); returns whether it did.
fn register_tiles<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
) -> bool {
    let columns_in_a_row = a.row_stride == 1 && a.col_stride == a.rows;
    if TypeId::of::<T>() != TypeId::of::<f32>() || !columns_in_a_row {
        return false;
    }
    // SAFETY: T is f32 (checked just above): these are the same slices.
    let (out, a_data, b_data) = unsafe {
        (
            &mut *(out.as_mut_slice() as *mut [T] as *mut [f32]),
            &*(a.data as *const [T] as *const [f32]),
            &*(b.data as *const [T] as *const [f32]),
        )
    };
    let shape = (a.rows, a.cols, b.cols);
    tiles::product(out, a_data, b_data, shape, (b.row_stride, b.col_stride))
}

/// The register tiles' product where it applies; else the `gemm` crate's,
/// on one thread or, when large, on `threads`.
fn engine_product<T: RealField + Copy>(
    out: &mut DMatrix<T>,
    a: Operand<'_, T>,
    b: Operand<'_, T>,
    accumulate: bool,
    threads: usize,
) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    if !accumulate && register_tiles(out, a, b) {
        return;
    }
    let parallelism = if threads > 1 && m * n * k >= THREAD_THRESHOLD {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    let stride = |s: usize| s as isize;
    // SAFETY: `matmul` calls this for T = f32 or f64 only, the scalars the
    // `gemm` crate takes. Every index the product reads,
    // `i·row_stride + j·col_stride` for i < rows, j < cols, is below the
    // operand's extent, asserted in `matmul` to fit its slice; `out` is an
    // `m × n` column-major matrix we hold mutably, so nothing else reads or
    // writes it.
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

/// Makes `buffer` an `rows × cols` matrix, allocating only when its shape
/// changes (training batches vs. an evaluation chunk), never in the steady state.
pub fn resize_buffer<T: RealField + Copy>(buffer: &mut DMatrix<T>, rows: usize, cols: usize) {
    if buffer.shape() != (rows, cols) {
        *buffer = DMatrix::zeros(rows, cols);
    }
}

/// `out[j] = Σ_r m[r, j]`, the column sums of `m` (`1 × cols` into `out`),
/// each added from the top row down, the order of nalgebra's `column.sum()`.
/// Eight columns advance together: one long column waits on its own last
/// addition at every row (four cycles or so), eight independent sums fill
/// those waits.
pub fn column_sums<T: RealField + Copy>(m: &DMatrix<T>, out: &mut DMatrix<T>) {
    let rows = m.nrows();
    assert_eq!(out.len(), m.ncols(), "column_sums: one sum per column");
    if rows == 0 {
        return out.fill(T::zero());
    }
    let columns = m.as_slice().chunks(8 * rows);
    for (sums, block) in out.as_mut_slice().chunks_mut(8).zip(columns) {
        let mut acc = [T::zero(); 8];
        for r in 0..rows {
            for (a, column) in acc.iter_mut().zip(block.chunks(rows)) {
                *a += column[r];
            }
        }
        sums.copy_from_slice(&acc[..sums.len()]);
    }
}

// ANCHOR: dense
/// The fully connected layer `Y = X·W + 1·b`, as stage 3's `Affine`.
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
    /// The product code, and how many threads a large product may use.
    pub kernel: Kernel,
    /// The output of the last forward, `N × n_out` (the next layer may change it in place).
    pub y: DMatrix<T>,
    /// `∂E/∂X` of the last backward, `N × n_in` (the layer below may change it in place).
    pub dx: DMatrix<T>,
}
// ANCHOR_END: dense

impl<T: RealField + Copy> Dense<T> {
    /// A layer with the given weights `w: n_in × n_out` and bias `b: 1 × n_out`.
    pub fn from_parameters(w: DMatrix<T>, b: DMatrix<T>, kernel: Kernel) -> Dense<T> {
        assert_eq!(b.shape(), (1, w.ncols()), "b must be 1 × n_out");
        let (n_in, n_out) = w.shape();
        Dense {
            grad_w: DMatrix::zeros(n_in, n_out),
            grad_b: DMatrix::zeros(1, n_out),
            kernel,
            y: DMatrix::zeros(0, n_out),
            dx: DMatrix::zeros(0, n_in),
            w,
            b,
        }
    }

    // ANCHOR: dense_forward
    /// `y = x·W + 1·b` into the layer's output buffer.
    pub fn forward(&mut self, x: &DMatrix<T>) -> &mut DMatrix<T> {
        self.forward_from(Operand::of(x))
    }

    /// [`Dense::forward`] for an `x: N × n_in` read in place, whatever its
    /// layout (stage 4's batches are stored image by image).
    pub fn forward_from(&mut self, x: Operand<'_, T>) -> &mut DMatrix<T> {
        assert_eq!(x.cols, self.w.nrows(), "Dense: x must have n_in columns");
        // y = b in every row, then y += x·W in place.
        resize_buffer(&mut self.y, x.rows, self.w.ncols());
        let columns = self.y.as_mut_slice().chunks_mut(x.rows.max(1));
        for (column, &b) in columns.zip(self.b.as_slice()) {
            column.fill(b);
        }
        matmul(&mut self.y, x, Operand::of(&self.w), true, self.kernel);
        &mut self.y
    }
    // ANCHOR_END: dense_forward

    // ANCHOR: dense_backward
    /// From `dy = ∂E/∂Y` and the input `x` of the last forward: `∂E/∂W`,
    /// `∂E/∂b` and `dX = dY · Wᵀ` into the layer's buffers.
    pub fn backward(&mut self, x: &DMatrix<T>, dy: &DMatrix<T>) -> &mut DMatrix<T> {
        self.backward_params(x, dy);
        resize_buffer(&mut self.dx, dy.nrows(), self.w.nrows());
        matmul(
            &mut self.dx,
            Operand::of(dy),
            Operand::transposed(&self.w),
            false,
            self.kernel,
        );
        &mut self.dx
    }

    /// Only `∂E/∂W = Xᵀ · dY` and `∂E/∂b = Σ_rows dY`: the first layer's
    /// `∂E/∂X`, the gradient with respect to the pixels, is of no use.
    pub fn backward_params(&mut self, x: &DMatrix<T>, dy: &DMatrix<T>) {
        self.backward_params_from(Operand::of(x), dy);
    }

    /// [`Dense::backward_params`] for an input read in place, as [`Dense::forward_from`].
    pub fn backward_params_from(&mut self, x: Operand<'_, T>, dy: &DMatrix<T>) {
        assert_eq!(
            dy.shape(),
            self.y.shape(),
            "Dense: dy must match the last output"
        );
        matmul(&mut self.grad_w, x.t(), Operand::of(dy), false, self.kernel);
        column_sums(dy, &mut self.grad_b);
    }
    // ANCHOR_END: dense_backward

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::{Affine, Layer};
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(0.0, 1.0).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    const KERNELS: [Kernel; 3] = [
        Kernel::Nalgebra,
        Kernel::Engine { threads: 1 },
        Kernel::Engine { threads: 2 },
    ];

    #[test]
    fn matmul_matches_nalgebra_for_every_transposition() {
        let mut rng = StdRng::seed_from_u64(1);
        for (m, k, n) in [(7, 5, 3), (9, 8, 7)] {
            let a = random(m, k, &mut rng);
            let at = a.transpose();
            let b = random(k, n, &mut rng);
            let bt = b.transpose();
            let expected = &a * &b;
            for kernel in KERNELS {
                for (lhs, rhs) in [
                    (Operand::of(&a), Operand::of(&b)),
                    (Operand::transposed(&at), Operand::of(&b)),
                    (Operand::of(&a), Operand::transposed(&bt)),
                    (Operand::transposed(&at), Operand::transposed(&bt)),
                ] {
                    let mut out = DMatrix::zeros(m, n);
                    matmul(&mut out, lhs, rhs, false, kernel);
                    assert!((&out - &expected).amax() < 1e-12, "{kernel:?}");
                    // accumulate adds the product to what is there
                    matmul(&mut out, lhs, rhs, true, kernel);
                    assert!((&out - &expected * 2.0).amax() < 1e-12, "{kernel:?}");
                }
            }
            // f32 goes through the same kernels
            let (a32, b32) = (a.cast::<f32>(), b.cast::<f32>());
            let mut out = DMatrix::zeros(m, n);
            matmul(
                &mut out,
                Operand::of(&a32),
                Operand::of(&b32),
                false,
                KERNELS[1],
            );
            assert!((out.cast::<f64>() - expected).amax() < 1e-5);
        }
    }

    #[test]
    fn column_sums_are_nalgebras_to_the_bit() {
        let mut rng = StdRng::seed_from_u64(4);
        for (rows, cols) in [(128, 512), (3, 17), (1, 1), (33, 8), (5, 9)] {
            let m = random(rows, cols, &mut rng);
            let mut sums = DMatrix::zeros(1, cols);
            column_sums(&m, &mut sums);
            for j in 0..cols {
                assert_eq!(sums[j], m.column(j).sum(), "{rows} × {cols}, column {j}");
            }
        }
    }

    #[test]
    fn dense_agrees_with_stage_3_affine() {
        // Shapes from 1 (one sample, one output) up, every kernel.
        let mut rng = StdRng::seed_from_u64(3);
        for (n, n_in, n_out) in [(7, 9, 6), (1, 4, 3), (6, 5, 1), (3, 2, 8)] {
            let w = random(n_in, n_out, &mut rng);
            let b = random(1, n_out, &mut rng);
            let x = random(n, n_in, &mut rng);
            let dy = random(n, n_out, &mut rng);
            let mut affine = Affine::from_parameters(w.clone(), b.clone());
            let y = affine.forward(&x);
            let dx = affine.backward(&dy);
            for kernel in KERNELS {
                let mut dense = Dense::from_parameters(w.clone(), b.clone(), kernel);
                assert!((dense.forward(&x).clone() - &y).amax() < 1e-12);
                assert!((dense.backward(&x, &dy).clone() - &dx).amax() < 1e-12);
                assert!((&dense.grad_w - &affine.grad_w).amax() < 1e-12);
                assert!((&dense.grad_b - &affine.grad_b).amax() < 1e-12);
            }
        }
    }

    #[test]
    fn dense_gradients_match_the_numerical_ones_in_f64() {
        use ch5_backprop::gradient_check::{numerical_gradient, relative_errors};
        let mut rng = StdRng::seed_from_u64(2);
        for (n, n_in, n_out) in [(1, 4, 3), (6, 5, 7), (3, 9, 2)] {
            let (w, b) = (random(n_in, n_out, &mut rng), random(1, n_out, &mut rng));
            let (x, g) = (random(n, n_in, &mut rng), random(n, n_out, &mut rng));
            // E = Σ G ⊙ Y, so that ∂E/∂Y = G.
            let loss = |w: &DMatrix<f64>, b: &DMatrix<f64>, x: &DMatrix<f64>| {
                let mut dense = Dense::from_parameters(w.clone(), b.clone(), KERNELS[1]);
                dense.forward(x).dot(&g)
            };
            let mut dense = Dense::from_parameters(w.clone(), b.clone(), KERNELS[1]);
            dense.forward(&x);
            let dx = dense.backward(&x, &g).clone();
            let nudged = |m: &DMatrix<f64>, i: usize, d: f64| {
                let mut m = m.clone();
                m[i] += d;
                m
            };
            let nx = numerical_gradient(n, n_in, |i, d| loss(&w, &b, &nudged(&x, i, d)));
            let nw = numerical_gradient(n_in, n_out, |i, d| loss(&nudged(&w, i, d), &b, &x));
            let nb = numerical_gradient(1, n_out, |i, d| loss(&w, &nudged(&b, i, d), &x));
            let errors = relative_errors(&[(&dx, &nx), (&dense.grad_w, &nw), (&dense.grad_b, &nb)]);
            assert!(
                errors.iter().all(|&e| e < 1e-8),
                "{n}×{n_in}→{n_out}: {errors:?}"
            );
        }
    }
}
