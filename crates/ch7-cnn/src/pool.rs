//! # Max pooling
//!
//! Stage 6 of the course (chapter 7, "the pooling layer"). Pooling shrinks
//! each feature map: a window slides over it (the book's `2 × 2` with
//! stride 2, so windows do not overlap) and only the largest number under
//! each window goes on:
//!
//! `y[n, c, oh, ow] = max_{i,j} x[n, c, oh·s + i, ow·s + j]`
//!
//! It has no parameters, works on each channel by itself, and does not care
//! where in its window a feature was found: a digit moved by a pixel gives
//! much the same output.
//!
//! Backward: `y` is one of its window's inputs, so `∂y/∂x` is 1 for that
//! input (the argmax) and 0 for the others. Forward remembers where each
//! maximum came from; backward sends each `dY` there, adding where windows
//! overlap.
//!
//! With the images of a batch side by side in memory ([`crate::layout`]),
//! each output pixel is the running maximum of a few runs of `N` numbers.

use nalgebra::{DMatrix, RealField};

use crate::layout::{Shape, ShapeError, Window};

// ANCHOR: max_pooling
/// Max pooling with a `window` (no padding) over stacks of feature maps of
/// `input = C × H × W`. Shapes: `x: N × (C·H·W)` in, `y: N × (C·OH·OW)` out.
pub struct MaxPooling<T: RealField + Copy> {
    pub input: Shape,
    pub window: Window,
    /// `OH × OW`.
    pub positions: (usize, usize),
    /// The output of the last forward.
    pub y: DMatrix<T>,
    /// For each entry of `y` (in storage order), where in `x`'s storage its maximum was.
    argmax: Vec<u32>,
    /// `∂E/∂X` of the last backward, `N × (C·H·W)`.
    pub dx: DMatrix<T>,
}
// ANCHOR_END: max_pooling

impl<T: RealField + Copy> MaxPooling<T> {
    /// Pooling windows of `pool_h × pool_w` moved by `stride` (no padding),
    /// or why they do not fit `input`.
    pub fn new(
        input: Shape,
        pool_h: usize,
        pool_w: usize,
        stride: usize,
    ) -> Result<MaxPooling<T>, ShapeError> {
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
            y: DMatrix::zeros(0, 0),
            argmax: Vec::new(),
            dx: DMatrix::zeros(0, 0),
        })
    }

    /// The shape of one output: `C × OH × OW`.
    pub fn output(&self) -> Shape {
        Shape::new(self.input.channels, self.positions.0, self.positions.1)
    }

    // ANCHOR: pool_forward
    /// `y = ` the largest input under each window, per image and channel,
    /// into the layer's output buffer; remembers where each came from.
    pub fn forward(&mut self, x: &DMatrix<T>) -> &mut DMatrix<T> {
        assert_eq!(
            x.ncols(),
            self.input.len(),
            "MaxPooling: x must be N × (C·H·W)"
        );
        assert!(
            x.len() <= u32::MAX as usize,
            "MaxPooling: the batch is too large"
        );
        let n = x.nrows();
        let out = self.output();
        ch6_mlp::engine::dense::resize_buffer(&mut self.y, n, out.len());
        self.argmax.resize(n * out.len(), 0);
        let (x, y) = (x.as_slice(), self.y.as_mut_slice());
        let (s, (oh_count, ow_count)) = (self.window.stride, self.positions);
        for c in 0..out.channels {
            for oh in 0..oh_count {
                for ow in 0..ow_count {
                    // N images at once: y[·, (c, oh, ow)] = max over the window of x[·, (c, h, w)].
                    let to = out.index(c, oh, ow) * n;
                    let (best, at) = (&mut y[to..][..n], &mut self.argmax[to..][..n]);
                    for i in 0..self.window.height {
                        for j in 0..self.window.width {
                            let from = self.input.index(c, oh * s + i, ow * s + j) * n;
                            let run = &x[from..][..n];
                            if (i, j) == (0, 0) {
                                best.copy_from_slice(run);
                                at.iter_mut().zip(from as u32..).for_each(|(a, p)| *a = p);
                                continue;
                            }
                            // Written without branches (`at` by a bit mask, all ones where `v` is
                            // larger), so that the compiler runs it on vectors of numbers.
                            let pairs = best.iter_mut().zip(at.iter_mut());
                            for (((b, a), &v), p) in pairs.zip(run).zip(from as u32..) {
                                let larger = (u32::from(v > *b)).wrapping_neg();
                                *a = (p & larger) | (*a & !larger);
                                *b = if v > *b { v } else { *b };
                            }
                        }
                    }
                }
            }
        }
        &mut self.y
    }
    // ANCHOR_END: pool_forward

    // ANCHOR: pool_backward
    /// `dX`: each entry of `dy` added to the input its maximum came from, 0 elsewhere.
    pub fn backward(&mut self, dy: &DMatrix<T>) -> &mut DMatrix<T> {
        assert_eq!(
            dy.shape(),
            self.y.shape(),
            "MaxPooling: dy must match the last output"
        );
        ch6_mlp::engine::dense::resize_buffer(&mut self.dx, dy.nrows(), self.input.len());
        self.dx.as_mut_slice().fill(T::zero());
        let dx = self.dx.as_mut_slice();
        for (&d, &at) in dy.as_slice().iter().zip(&self.argmax) {
            dx[at as usize] += d;
        }
        &mut self.dx
    }
    // ANCHOR_END: pool_backward
}

/// Stage 3's `Layer`, for plain networks and stage 3's gradient checks.
impl<T: RealField + Copy> ch5_backprop::Layer<T> for MaxPooling<T> {
    fn forward(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        MaxPooling::forward(self, x).clone()
    }

    fn backward(&mut self, dy: &DMatrix<T>) -> DMatrix<T> {
        MaxPooling::backward(self, dy).clone()
    }

    fn name(&self) -> String {
        let w = &self.window;
        format!("MaxPooling {}×{}, stride {}", w.height, w.width, w.stride)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ch5_backprop::gradient_check::check_layer;
    use rand::SeedableRng;
    use rand::rngs::StdRng;
    use rand::seq::SliceRandom;
    use rand_distr::{Distribution, Normal};

    /// `rows × cols` distinct numbers 0.05 apart, shuffled: no two inputs of a
    /// window are within the numerical gradient's steps of each other, so
    /// the maximum never changes hands while an input is nudged.
    fn distinct(rows: usize, cols: usize, rng: &mut StdRng) -> DMatrix<f64> {
        let mut values: Vec<f64> = (0..rows * cols).map(|i| 0.05 * i as f64 - 3.0).collect();
        values.shuffle(rng);
        DMatrix::from_vec(rows, cols, values)
    }

    #[test]
    fn the_largest_number_of_each_window_goes_on() {
        // One 1×4×4 image, 2×2 windows, stride 2: the book's example.
        let x = DMatrix::from_row_slice(
            1,
            16,
            &[
                1., 2., 1., 0., //
                0., 1., 2., 3., //
                3., 0., 1., 2., //
                2., 4., 0., 1.,
            ],
        );
        let mut pool = MaxPooling::new(Shape::new(1, 4, 4), 2, 2, 2).unwrap();
        assert_eq!(pool.forward(&x).as_slice(), &[2., 3., 4., 2.]);
        let dy = DMatrix::from_row_slice(1, 4, &[10., 20., 30., 40.]);
        let dx = pool.backward(&dy);
        let expected = [
            0., 10., 0., 0., 0., 0., 0., 20., 0., 0., 0., 40., 0., 30., 0., 0.,
        ];
        assert_eq!(dx.as_slice(), &expected);
    }

    #[test]
    fn pooling_gradients_match_the_numerical_ones_in_f64() {
        // Channels 1 to 3, strides 1 to 3, overlapping windows (stride < size) included.
        let mut rng = StdRng::seed_from_u64(4);
        let normal = Normal::new(0.0, 1.0).unwrap();
        for (input, size, stride) in [
            (Shape::new(1, 4, 4), 2, 2),
            (Shape::new(2, 6, 6), 2, 2),
            (Shape::new(3, 5, 5), 3, 1),
            (Shape::new(2, 7, 7), 3, 2),
            (Shape::new(1, 7, 4), 1, 3),
        ] {
            let mut pool = MaxPooling::new(input, size, size, stride).unwrap();
            let x = distinct(3, input.len(), &mut rng);
            let out = pool.output().len();
            let g = DMatrix::from_fn(3, out, |_, _| normal.sample(&mut rng));
            let check = check_layer(&mut pool, &x, &g);
            assert!(check.params.is_empty());
            assert!(
                check.dx < 1e-8,
                "{input}, {size}×{size} stride {stride}: {check:?}"
            );
        }
    }

    #[test]
    fn windows_that_do_not_fit_are_errors() {
        let maps = Shape::new(30, 24, 24);
        assert!(MaxPooling::<f32>::new(maps, 2, 2, 0).is_err());
        assert!(MaxPooling::<f32>::new(maps, 25, 25, 1).is_err());
        // (24 − 2) / 4 is not whole.
        let err = MaxPooling::<f32>::new(maps, 2, 2, 4).err().unwrap();
        assert!(err.to_string().contains("does not divide"), "{err}");
    }
}
