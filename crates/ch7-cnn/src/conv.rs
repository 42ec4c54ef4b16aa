//! # The convolution layer
//!
//! Stage 6 of the course (chapter 7, "the convolution layer"). `FN`
//! filters of `C × FH × FW` slide over a batch of `C × H × W` images; at
//! each of the `OH × OW` positions each filter gives one number, the sum of
//! its products with the patch under it, plus the filter's bias:
//!
//! `y[n, f, oh, ow] = b[f] + Σ_{c,i,j} W[f, c, i, j] · x[n, c, oh·s + i − p, ow·s + j − p]`
//!
//! ([`convolve_directly`] is that formula as seven nested loops.) With
//! im2col ([`crate::im2col`]) the patches are rows of `col` and the filters
//! columns of `W: (C·FH·FW) × FN`, so the whole layer is
//! `Y = col · W + 1·b`: stage 3's `Affine` on the patches. Its backward is
//! therefore `Affine`'s, then col2im to fold the patches' gradient back
//! onto the pixels:
//! - `dW = colᵀ · dY` and `db = Σ_rows dY` (each filter's gradient sums over
//!   every position of every image: the weights are shared);
//! - `dcol = dY · Wᵀ`, then `dX = col2im(dcol)`.
//!
//! The products run on stage 4's engine (`matmul` with the `gemm` crate, in
//! kept buffers), so the layer allocates nothing in the steady state.

use ch6_mlp::engine::dense::{Kernel, Operand, matmul, resize_buffer};
use ch6_mlp::init::Init;
use nalgebra::{DMatrix, RealField};
use rand::Rng;

use crate::im2col::{col2im, im2col};
use crate::layout::{Shape, ShapeError, Window, reshaped};

// ANCHOR: convolution
/// `FN` filters of `C × FH × FW` over images of `input = C × H × W`.
///
/// Shapes: `x: N × (C·H·W)` in, `y: N × (FN·OH·OW)` out (see
/// [`crate::layout`]); `W: (C·FH·FW) × FN`, filter `f` in column `f` (the
/// book's `col_W = W.reshape(FN, -1).T`), `b: 1 × FN`.
pub struct Convolution<T: RealField + Copy> {
    pub input: Shape,
    pub window: Window,
    /// `OH × OW`: the positions the filters take.
    pub positions: (usize, usize),
    /// The filters, one per column: `W: (C·FH·FW) × FN`.
    pub w: DMatrix<T>,
    /// One bias per filter: `b: 1 × FN`.
    pub b: DMatrix<T>,
    pub grad_w: DMatrix<T>,
    pub grad_b: DMatrix<T>,
    pub kernel: Kernel,
    /// The patches of the last forward, `(OH·OW·N) × (C·FH·FW)`: backward needs them.
    col: DMatrix<T>,
    /// The output of the last forward, `N × (FN·OH·OW)` (the next layer may change it in place).
    pub y: DMatrix<T>,
    dcol: DMatrix<T>,
    /// `∂E/∂X` of the last backward, `N × (C·H·W)`.
    pub dx: DMatrix<T>,
}
// ANCHOR_END: convolution

impl<T: RealField + Copy> Convolution<T> {
    /// A layer with filters `w: (C·FH·FW) × FN` and biases `b: 1 × FN`, or why
    /// `window` does not fit `input`.
    pub fn from_parameters(
        input: Shape,
        window: Window,
        w: DMatrix<T>,
        b: DMatrix<T>,
        kernel: Kernel,
    ) -> Result<Convolution<T>, ShapeError> {
        let positions = window.output(input)?;
        let patch = input.channels * window.height * window.width;
        assert_eq!(w.nrows(), patch, "W must be (C·FH·FW) × FN");
        assert_eq!(b.shape(), (1, w.ncols()), "b must be 1 × FN");
        Ok(Convolution {
            input,
            window,
            positions,
            grad_w: DMatrix::zeros(w.nrows(), w.ncols()),
            grad_b: DMatrix::zeros(1, w.ncols()),
            kernel,
            col: DMatrix::zeros(0, patch),
            y: DMatrix::zeros(0, 0),
            dcol: DMatrix::zeros(0, 0),
            dx: DMatrix::zeros(0, 0),
            w,
            b,
        })
    }

    /// `filters` fresh filters drawn by `init` (fan-in `C·FH·FW`), biases 0.
    pub fn new(
        input: Shape,
        filters: usize,
        window: Window,
        init: Init,
        rng: &mut impl Rng,
        kernel: Kernel,
    ) -> Result<Convolution<T>, ShapeError> {
        let patch = input.channels * window.height * window.width;
        let w = init.weights(patch, filters, rng);
        Convolution::from_parameters(input, window, w, DMatrix::zeros(1, filters), kernel)
    }

    /// Number of filters, `FN`.
    pub fn filters(&self) -> usize {
        self.w.ncols()
    }

    /// The shape of one output: `FN × OH × OW`.
    pub fn output(&self) -> Shape {
        Shape::new(self.filters(), self.positions.0, self.positions.1)
    }

    /// Number of trainable numbers: `FN·(C·FH·FW + 1)`.
    pub fn parameter_count(&self) -> usize {
        self.w.len() + self.b.len()
    }

    // ANCHOR: conv_forward
    /// `Y = col · W + 1·b`, with `col = im2col(x)`, into the layer's output
    /// buffer `y: N × (FN·OH·OW)`.
    pub fn forward(&mut self, x: &DMatrix<T>) -> &mut DMatrix<T> {
        assert_eq!(
            x.ncols(),
            self.input.len(),
            "Convolution: x must be N × (C·H·W)"
        );
        im2col(x, self.input, &self.window, self.positions, &mut self.col);
        // The product `(OH·OW·N) × FN` is, number for number, the batch
        // `N × (FN·OH·OW)`: column f of it is filter f's feature map.
        let (rows, filters) = (self.col.nrows(), self.filters());
        let y = std::mem::replace(&mut self.y, DMatrix::zeros(0, 0));
        let mut y = if y.len() == rows * filters {
            reshaped(y, rows, filters)
        } else {
            DMatrix::zeros(rows, filters)
        };
        for (f, column) in y.as_mut_slice().chunks_exact_mut(rows).enumerate() {
            column.fill(self.b[f]);
        }
        let (col, w) = (Operand::of(&self.col), Operand::of(&self.w));
        matmul(&mut y, col, w, true, self.kernel);
        self.y = reshaped(y, x.nrows(), self.output().len());
        &mut self.y
    }
    // ANCHOR_END: conv_forward

    // ANCHOR: conv_backward
    /// From `dy = ∂E/∂Y: N × (FN·OH·OW)`: `dW = colᵀ · dY`, `db = Σ_rows dY`
    /// and `dX = col2im(dY · Wᵀ)`, into the layer's buffers.
    pub fn backward(&mut self, dy: &DMatrix<T>) -> &mut DMatrix<T> {
        self.backward_params(dy);
        let dy = self.dy_rows(dy);
        resize_buffer(&mut self.dcol, self.col.nrows(), self.col.ncols());
        matmul(
            &mut self.dcol,
            dy,
            Operand::transposed(&self.w),
            false,
            self.kernel,
        );
        col2im(
            &self.dcol,
            self.input,
            &self.window,
            self.positions,
            &mut self.dx,
        );
        &mut self.dx
    }

    /// Only `dW = colᵀ · dY` and `db = Σ_rows dY`: the first layer's `dX`,
    /// the gradient with respect to the pixels, is of no use.
    pub fn backward_params(&mut self, dy: &DMatrix<T>) {
        let rows = self.col.nrows();
        let dy_rows = self.dy_rows(dy);
        matmul(
            &mut self.grad_w,
            Operand::transposed(&self.col),
            dy_rows,
            false,
            self.kernel,
        );
        for (f, column) in dy.as_slice().chunks_exact(rows).enumerate() {
            self.grad_b[f] = column.iter().fold(T::zero(), |s, &v| s + v);
        }
    }
    // ANCHOR_END: conv_backward

    /// `dy: N × (FN·OH·OW)` read, without a copy, as `(OH·OW·N) × FN`, the
    /// shape of `col · W`.
    fn dy_rows<'a>(&self, dy: &'a DMatrix<T>) -> Operand<'a, T> {
        assert_eq!(
            dy.shape(),
            (self.y.nrows(), self.output().len()),
            "Convolution: dy must match the last output"
        );
        Operand::column_major(dy.as_slice(), self.col.nrows(), self.filters())
    }

    /// Filter `f` as `C` matrices `FH × FW`, for pictures.
    pub fn filter(&self, f: usize) -> Vec<DMatrix<T>> {
        let (fh, fw) = (self.window.height, self.window.width);
        (0..self.input.channels)
            .map(|c| DMatrix::from_fn(fh, fw, |i, j| self.w[((c * fh + i) * fw + j, f)]))
            .collect()
    }
}

/// Stage 3's `Layer`, so a convolution can sit in a plain `Network` and be
/// checked by stage 3's gradient checks. Each call copies its result out of
/// the kept buffer.
impl<T: RealField + Copy> ch5_backprop::Layer<T> for Convolution<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        Convolution::forward(self, x).clone()
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        Convolution::backward(self, dy).clone()
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        visit(&mut self.w, &self.grad_w);
        visit(&mut self.b, &self.grad_b);
    }

    fn parameter_count(&self) -> usize {
        Convolution::parameter_count(self)
    }

    fn name(&self) -> String {
        let w = &self.window;
        format!(
            "Convolution {}×{}×{}×{}, stride {}, pad {}",
            self.filters(),
            self.input.channels,
            w.height,
            w.width,
            w.stride,
            w.pad
        )
    }
}

// ANCHOR: convolve_directly
/// The convolution as its definition, loop by loop, with no im2col: what
/// the tests compare the layer with. `w[f]` is filter `f` as `C` matrices
/// `FH × FW`; returns `N × (FN·OH·OW)`.
pub fn convolve_directly(
    x: &DMatrix<f64>,
    input: Shape,
    w: &[Vec<DMatrix<f64>>],
    b: &[f64],
    window: &Window,
) -> Result<DMatrix<f64>, ShapeError> {
    let (oh_count, ow_count) = window.output(input)?;
    let out = Shape::new(w.len(), oh_count, ow_count);
    let (s, p) = (window.stride as isize, window.pad as isize);
    let pixel = |n: usize, c: usize, h: isize, v: isize| {
        let inside =
            (0..input.height as isize).contains(&h) && (0..input.width as isize).contains(&v);
        if inside {
            x[(n, input.index(c, h as usize, v as usize))]
        } else {
            0.0
        }
    };
    let mut y = DMatrix::zeros(x.nrows(), out.len());
    for n in 0..x.nrows() {
        for (f, filter) in w.iter().enumerate() {
            for oh in 0..oh_count {
                for ow in 0..ow_count {
                    let mut sum = b[f];
                    for (c, wc) in filter.iter().enumerate() {
                        for i in 0..window.height {
                            for j in 0..window.width {
                                let (h, v) = (
                                    oh as isize * s + i as isize - p,
                                    ow as isize * s + j as isize - p,
                                );
                                sum += wc[(i, j)] * pixel(n, c, h, v);
                            }
                        }
                    }
                    y[(n, out.index(f, oh, ow))] = sum;
                }
            }
        }
    }
    Ok(y)
}
// ANCHOR_END: convolve_directly

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_layer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand_distr::{Distribution, Normal};

    fn random(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        let normal = Normal::new(0.0, 1.0).unwrap();
        DMatrix::from_fn(rows, cols, |_, _| normal.sample(rng))
    }

    /// `(input, filters, window)` cases: channels 1 to 3, strides 1 to 3,
    /// paddings 0 to 2, square and not.
    fn cases() -> Vec<(Shape, usize, Window)> {
        let window = |height, width, stride, pad| Window {
            height,
            width,
            stride,
            pad,
        };
        vec![
            (Shape::new(1, 5, 5), 2, window(3, 3, 1, 0)),
            (Shape::new(2, 6, 5), 3, window(3, 2, 1, 1)),
            (Shape::new(3, 7, 7), 2, window(3, 3, 2, 0)),
            (Shape::new(2, 7, 7), 4, window(3, 3, 3, 1)),
            (Shape::new(1, 4, 4), 1, window(5, 5, 1, 2)),
            (Shape::new(3, 4, 5), 2, window(1, 1, 1, 0)),
        ]
    }

    fn layer(
        input: Shape,
        filters: usize,
        window: Window,
        rng: &mut StdRng,
        kernel: Kernel,
    ) -> Convolution<f64> {
        let patch = input.channels * window.height * window.width;
        let (w, b) = (random(patch, filters, rng), random(1, filters, rng));
        Convolution::from_parameters(input, window, w, b, kernel).unwrap()
    }

    #[test]
    fn im2col_convolution_equals_the_direct_loops() {
        let mut rng = StdRng::seed_from_u64(5);
        for (input, filters, window) in cases() {
            for kernel in [
                Kernel::Nalgebra,
                Kernel::Engine { threads: 1 },
                Kernel::Engine { threads: 2 },
            ] {
                let mut conv = layer(input, filters, window, &mut rng, kernel);
                let x = random(3, input.len(), &mut rng);
                let w: Vec<_> = (0..filters).map(|f| conv.filter(f)).collect();
                let b: Vec<f64> = conv.b.iter().copied().collect();
                let expected = convolve_directly(&x, input, &w, &b, &window).unwrap();
                let y = conv.forward(&x).clone();
                assert_eq!(y.shape(), (3, conv.output().len()));
                assert!(
                    (y - expected).amax() < 1e-12,
                    "{input} {window:?} {kernel:?}"
                );
            }
        }
    }

    #[test]
    fn convolution_gradients_match_the_numerical_ones_in_f64() {
        let mut rng = StdRng::seed_from_u64(6);
        for (input, filters, window) in cases() {
            let mut conv = layer(
                input,
                filters,
                window,
                &mut rng,
                Kernel::Engine { threads: 1 },
            );
            let x = random(2, input.len(), &mut rng);
            let g = random(2, conv.output().len(), &mut rng);
            let check = check_layer(&mut conv, &x, &g);
            assert_eq!(check.params.len(), 2, "W and b");
            assert!(check.max() < 1e-8, "{input} {window:?}: {check:?}");
        }
    }

    #[test]
    fn a_wrong_backward_fails_the_check() {
        // The check can fail: a dX 10% off is seen.
        struct Broken(Convolution<f64>);
        impl ch5_backprop::Layer<f64> for Broken {
            fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
                self.0.forward(x).clone()
            }
            fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
                self.0.backward(dy).map(|v| 0.9 * v)
            }
            fn name(&self) -> String {
                "broken".into()
            }
        }
        let mut rng = StdRng::seed_from_u64(7);
        let (input, filters, window) = cases()[0];
        let conv = layer(
            input,
            filters,
            window,
            &mut rng,
            Kernel::Engine { threads: 1 },
        );
        let x = random(2, input.len(), &mut rng);
        let g = random(2, conv.output().len(), &mut rng);
        assert!(check_layer(&mut Broken(conv), &x, &g).dx > 1e-3);
    }

    #[test]
    fn filters_that_do_not_fit_are_errors_not_panics() {
        let mut rng = StdRng::seed_from_u64(8);
        let kernel = Kernel::Engine { threads: 1 };
        let bad = |height, stride, pad| Window {
            height,
            width: height,
            stride,
            pad,
        };
        let mut make =
            |w| Convolution::<f32>::new(Shape::MNIST, 30, w, Init::He, &mut rng, kernel).err();
        assert_eq!(make(bad(5, 0, 0)), Some(ShapeError::ZeroStride));
        assert!(matches!(
            make(bad(29, 1, 0)),
            Some(ShapeError::WindowTooLarge { .. })
        ));
        assert!(matches!(
            make(bad(5, 2, 0)),
            Some(ShapeError::DoesNotDivide { .. })
        ));
        assert!(make(bad(5, 1, 0)).is_none());
        // The direct loops refuse the same shapes.
        let x = DMatrix::zeros(1, 784);
        assert!(convolve_directly(&x, Shape::MNIST, &[], &[], &bad(29, 1, 0)).is_err());
    }
}
