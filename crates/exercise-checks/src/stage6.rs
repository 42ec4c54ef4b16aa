//! # Stage 6's exercises: im2col, col2im, convolution backward, max-pooling backward
//!
//! The checks for `crates/exercises/src/stage6/` (chapter "Stage 6:
//! convolution and pooling"), in the chapter's order. The learner's code has
//! the course's signatures and layouts ([`ch7_cnn::layout`]: a batch of
//! images is `N × (C·H·W)`, and `col` is `(OH·OW·N) × (C·FH·FW)`, the images
//! fastest) and is compared with stage 6's own `im2col`, `col2im`,
//! `Convolution` and `MaxPooling`, on small shapes with stride and padding, and with the
//! answers of the usual mistakes (the book's row order, a patch read
//! column by column, padding or stride forgotten, average pooling), which
//! the check computes and names. Pooling is also checked against a
//! numerical gradient (stage 3's gradient check).

use ch5_backprop::Layer;
use ch7_cnn::layout::{Shape, Window};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;

use crate::Report;
use crate::compare::{self, rows, sample};
use crate::stage3::gradient_check_named;
use crate::stage5::run_layer;

/// A way to lay out `col`, right or wrong, for [`im2col_like`] and [`col2im_like`].
#[derive(Clone, Copy, PartialEq)]
enum Layout {
    /// The course's.
    Course,
    /// Rows image by image, `(n·OH + oh)·OW + ow`, as the book's numpy code.
    BookRows,
    /// A patch's pixels column by column: `(c·FW + j)·FH + i`.
    PatchTransposed,
    /// The channel last in a patch: `(i·FW + j)·C + c`.
    ChannelLast,
    /// Padding forgotten when finding the pixel: `oh·s + i`, not `oh·s + i − p`.
    NoPadOffset,
    /// Stride forgotten: `oh + i − p`.
    NoStride,
}

impl Layout {
    fn row(
        self,
        (oh, ow): (usize, usize),
        n: usize,
        (oh_count, ow_count): (usize, usize),
        images: usize,
    ) -> usize {
        match self {
            Layout::BookRows => (n * oh_count + oh) * ow_count + ow,
            _ => (oh * ow_count + ow) * images + n,
        }
    }

    fn column(self, (c, i, j): (usize, usize, usize), input: Shape, window: &Window) -> usize {
        let (fh, fw) = (window.height, window.width);
        match self {
            Layout::PatchTransposed => (c * fw + j) * fh + i,
            Layout::ChannelLast => (i * fw + j) * input.channels + c,
            _ => (c * fh + i) * fw + j,
        }
    }

    /// The image pixel under pixel `(i, j)` of the window at `(oh, ow)`, if not padding.
    fn source(
        self,
        (oh, ow): (usize, usize),
        (i, j): (usize, usize),
        input: Shape,
        window: &Window,
    ) -> Option<(usize, usize)> {
        let (s, p) = match self {
            Layout::NoPadOffset => (window.stride, 0),
            Layout::NoStride => (1, window.pad),
            _ => (window.stride, window.pad),
        };
        let h = (oh * s + i).checked_sub(p)?;
        let w = (ow * s + j).checked_sub(p)?;
        (h < input.height && w < input.width).then_some((h, w))
    }

    /// Visits every `(row of col, column of col, column of x or None)` of a batch of `images`.
    fn each(
        self,
        input: Shape,
        window: &Window,
        positions: (usize, usize),
        images: usize,
        mut visit: impl FnMut(usize, usize, usize, Option<usize>),
    ) {
        for n in 0..images {
            for oh in 0..positions.0 {
                for ow in 0..positions.1 {
                    for c in 0..input.channels {
                        for i in 0..window.height {
                            for j in 0..window.width {
                                let row = self.row((oh, ow), n, positions, images);
                                let column = self.column((c, i, j), input, window);
                                let pixel = self
                                    .source((oh, ow), (i, j), input, window)
                                    .map(|(h, w)| input.index(c, h, w));
                                visit(n, row, column, pixel);
                            }
                        }
                    }
                }
            }
        }
    }
}

/// im2col with `layout`, the padding entries set to `padding` (0 when right).
fn im2col_like(
    x: &DMatrix<f64>,
    input: Shape,
    window: &Window,
    positions: (usize, usize),
    layout: Layout,
    padding: f64,
) -> DMatrix<f64> {
    let n = x.nrows();
    let mut col = DMatrix::zeros(
        positions.0 * positions.1 * n,
        input.channels * window.height * window.width,
    );
    layout.each(input, window, positions, n, |image, row, column, pixel| {
        col[(row, column)] = pixel.map_or(padding, |p| x[(image, p)]);
    });
    col
}

/// col2im, the backward of `im2col_like(layout)`, added to `dx` as given; `overwrite`: `=` where `+=` belongs.
fn col2im_like(
    dcol: &DMatrix<f64>,
    input: Shape,
    window: &Window,
    positions: (usize, usize),
    layout: Layout,
    mut dx: DMatrix<f64>,
    overwrite: bool,
) -> DMatrix<f64> {
    let n = dx.nrows();
    layout.each(input, window, positions, n, |image, row, column, pixel| {
        if let Some(p) = pixel {
            if overwrite {
                dx[(image, p)] = dcol[(row, column)];
            } else {
                dx[(image, p)] += dcol[(row, column)];
            }
        }
    });
    dx
}

/// One small case of a check: a batch shape, a window, and its name.
struct Case {
    name: &'static str,
    images: usize,
    input: Shape,
    window: Window,
}

fn window(height: usize, width: usize, stride: usize, pad: usize) -> Window {
    Window {
        height,
        width,
        stride,
        pad,
    }
}

/// The cases both im2col and col2im are checked on, smallest first.
fn cases() -> [Case; 4] {
    [
        Case {
            name: "the chapter's example: one 1×3×3 image, a 2×2 window, stride 1",
            images: 1,
            input: Shape::new(1, 3, 3),
            window: window(2, 2, 1, 0),
        },
        Case {
            name: "padding 1: two 1×2×2 images, a 3×3 window",
            images: 2,
            input: Shape::new(1, 2, 2),
            window: window(3, 3, 1, 1),
        },
        Case {
            name: "stride 2, no padding: two 1×5×5 images, a 3×3 window",
            images: 2,
            input: Shape::new(1, 5, 5),
            window: window(3, 3, 2, 0),
        },
        Case {
            name: "stride 2, padding 1: three 2×5×6 images, a 3×2 window",
            images: 3,
            input: Shape::new(2, 5, 6),
            window: window(3, 2, 2, 1),
        },
    ]
}

/// The named wrong layouts, for the hints.
const MISTAKES: [(Layout, &str); 5] = [
    (
        Layout::BookRows,
        "order the rows image by image, (n·OH + oh)·OW + ow, as the book's numpy does: \
         the course puts the images fastest, row (oh·OW + ow)·N + n",
    ),
    (
        Layout::PatchTransposed,
        "read each patch column by column: pixel (i, j) of channel c goes to column (c·FH + i)·FW + j, row by row",
    ),
    (
        Layout::ChannelLast,
        "put the channel last in a patch: column (c·FH + i)·FW + j has the channel first",
    ),
    (
        Layout::NoPadOffset,
        "forget to subtract the padding: window pixel (i, j) at (oh, ow) is image pixel (oh·s + i − p, ow·s + j − p)",
    ),
    (
        Layout::NoStride,
        "forget the stride: the window at (oh, ow) starts at (oh·s − p, ow·s − p)",
    ),
];

/// Checks `im2col(x, input, window, positions, col)`: `col: (OH·OW·N) × (C·FH·FW)`,
/// row `(oh·OW + ow)·N + n` the patch of image `n` at `(oh, ow)`, column
/// `(c·FH + i)·FW + j` its pixel `(i, j)` of channel `c`, 0 in the padding;
/// `col` given with other numbers in it (a kept buffer), resized if needed.
pub fn im2col(
    f: impl Fn(&DMatrix<f64>, Shape, &Window, (usize, usize), &mut DMatrix<f64>),
) -> Report {
    let mut report = Report::new();
    for (k, case) in cases().into_iter().enumerate() {
        let positions = case.window.output(case.input).expect("the cases fit");
        let x = if k == 0 {
            rows(1, 9, &[1., 2., 3., 4., 5., 6., 7., 8., 9.])
        } else {
            sample(case.images, case.input.len(), 70 + k as u64)
        };
        let mut want = DMatrix::zeros(0, 0);
        ch7_cnn::im2col::im2col(&x, case.input, &case.window, positions, &mut want);
        // A kept buffer: the right shape after the first case, but full of other numbers.
        let mut got = if k == 0 {
            DMatrix::zeros(0, 0)
        } else {
            DMatrix::from_element(want.nrows(), want.ncols(), 7.0)
        };
        f(&x, case.input, &case.window, positions, &mut got);
        let mut mistakes: Vec<(&str, DMatrix<f64>)> = MISTAKES
            .iter()
            .map(|&(layout, name)| {
                (
                    name,
                    im2col_like(&x, case.input, &case.window, positions, layout, 0.0),
                )
            })
            .collect();
        mistakes.push((
            "leave the padding entries as they were: col is a kept buffer, write 0 where the window is over the padding",
            im2col_like(&x, case.input, &case.window, positions, Layout::Course, 7.0),
        ));
        report.check(
            case.name,
            compare::matrix("col", &got, &want, None, &mistakes).map_err(|e| {
                format!(
                    "{e}\n(x: {} × {}, C×H×W = {}, window {}×{} stride {} padding {}: col is (OH·OW·N) × (C·FH·FW) = {} × {})",
                    x.nrows(),
                    x.ncols(),
                    case.input,
                    case.window.height,
                    case.window.width,
                    case.window.stride,
                    case.window.pad,
                    want.nrows(),
                    want.ncols()
                )
            }),
        );
    }
    report
}

/// Checks `col2im(dcol, input, window, positions, dx)`: every entry of
/// `dcol: (OH·OW·N) × (C·FH·FW)` added to the pixel of `dx: N × (C·H·W)` it
/// was copied from by im2col (set to 0 first; padding entries dropped).
pub fn col2im(
    f: impl Fn(&DMatrix<f64>, Shape, &Window, (usize, usize), &mut DMatrix<f64>),
) -> Report {
    let mut report = Report::new();
    for (k, case) in cases().into_iter().enumerate() {
        let positions = case.window.output(case.input).expect("the cases fit");
        let rows = positions.0 * positions.1 * case.images;
        let cols = case.input.channels * case.window.height * case.window.width;
        let dcol = if k == 0 {
            DMatrix::from_element(rows, cols, 1.0)
        } else {
            sample(rows, cols, 80 + k as u64)
        };
        let mut want = DMatrix::zeros(0, 0);
        ch7_cnn::im2col::col2im(&dcol, case.input, &case.window, positions, &mut want);
        let stale = DMatrix::from_element(case.images, case.input.len(), 5.0);
        let mut got = if k == 0 {
            DMatrix::zeros(0, 0)
        } else {
            stale.clone()
        };
        f(&dcol, case.input, &case.window, positions, &mut got);
        let zeros = DMatrix::zeros(case.images, case.input.len());
        let mut mistakes: Vec<(&str, DMatrix<f64>)> = MISTAKES
            .iter()
            .map(|&(layout, name)| {
                (
                    name,
                    col2im_like(
                        &dcol,
                        case.input,
                        &case.window,
                        positions,
                        layout,
                        zeros.clone(),
                        false,
                    ),
                )
            })
            .collect();
        mistakes.push((
            "write each entry with = where += belongs: a pixel in several patches collects one number from each",
            col2im_like(&dcol, case.input, &case.window, positions, Layout::Course, zeros.clone(), true),
        ));
        mistakes.push((
            "add to what dx held: dx is a kept buffer, set it to 0 first",
            col2im_like(
                &dcol,
                case.input,
                &case.window,
                positions,
                Layout::Course,
                stale,
                false,
            ),
        ));
        let name = if k == 0 {
            "the chapter's example, dcol all ones: each pixel gets one 1 per patch it is in (the centre 4)"
        } else {
            case.name
        };
        report.check(name, compare::matrix("dx", &got, &want, None, &mistakes));
    }
    report
}

/// Checks the convolution's backward: from `dy: N × (FN·OH·OW)`, read as
/// `dY: (OH·OW·N) × FN`, `∂E/∂W = colᵀ · dY`, `∂E/∂b = Σ_rows dY` and
/// `∂E/∂X = col2im(dY · Wᵀ)`. `new(input, window, w, b)` makes the learner's
/// layer (`w: (C·FH·FW) × FN`, `b: 1 × FN`), whose `for_each_param` visits
/// `(W, ∂E/∂W)` then `(b, ∂E/∂b)`.
pub fn conv_backward<L: Layer<f64>>(
    new: impl Fn(Shape, Window, DMatrix<f64>, DMatrix<f64>) -> L,
) -> Report {
    let mut report = Report::new();
    // Three images of 2 channels 5×5, four 3×3 filters, stride 2, padding 1: 3×3 positions.
    let (images, input, window) = (3, Shape::new(2, 5, 5), window(3, 3, 2, 1));
    let (w, b) = (sample(18, 4, 100), sample(1, 4, 101));
    let x = sample(images, input.len(), 102);
    let dy = sample(images, 4 * 9, 103) / images as f64; // from a mean loss: it holds the 1/N
    let mut reference = ch7_cnn::Convolution::from_parameters(
        input,
        window,
        w.clone(),
        b.clone(),
        ch6_mlp::engine::dense::Kernel::Nalgebra,
    )
    .expect("the case fits");
    let (want_dx, want) = run_layer(&mut reference, &x, &dy);
    let (got_dx, got) = run_layer(&mut new(input, window, w.clone(), b.clone()), &x, &dy);
    let layout = "\n(dy: N × (FN·OH·OW) holds the same numbers as dY: (OH·OW·N) × FN, the shape \
                  of col · W; reshaped(dy.clone(), OH·OW·N, FN) reads it so)";
    report.check(
        "∂E/∂W = colᵀ · dY (18 × 4: one column per filter, summed over every position of every image)",
        if got.len() != 2 {
            Err(format!(
                "for_each_param visited {} parameters; it should visit W then b (the stub does)",
                got.len()
            ))
        } else {
            compare::matrix("∂E/∂W", &got[0], &want[0], Some(images), &[])
                .map_err(|e| format!("{e}{layout}"))
        },
    );
    report.check(
        "∂E/∂b = Σ_rows dY (1 × 4: each filter's bias reached every position of every image)",
        match got.get(1) {
            None => Err("no gradient of b (see the check above)".into()),
            Some(got_b) => {
                let first_image = DMatrix::from_fn(1, 4, |_, f| {
                    (0..9).map(|p| dy[(0, f * 9 + p)]).sum::<f64>()
                });
                compare::matrix(
                    "∂E/∂b",
                    got_b,
                    &want[1],
                    Some(images),
                    &[(
                        "sum over the first image only: every row of dY, all OH·OW·N of them, adds to b",
                        first_image,
                    )],
                )
                .map_err(|e| format!("{e}{layout}"))
            }
        },
    );
    report.check(
        "∂E/∂X = col2im(dY · Wᵀ) (3 × 50)",
        compare::matrix("∂E/∂X", &got_dx, &want_dx, Some(images), &[]).map_err(|e| {
            let hint = if got_dx.shape() == (9 * images, 18) {
                "\n(that is the shape of ∂E/∂col: col2im takes it back to the pixels)"
            } else {
                ""
            };
            format!("{e}{hint}")
        }),
    );
    report.check(
        "a gradient check: two images of 1 channel 6×6, two 3×3 filters, stride 1, padding 1",
        gradient_check_named(
            &mut new(
                Shape::new(1, 6, 6),
                window_of(3, 1, 1),
                sample(9, 2, 104),
                sample(1, 2, 105),
            ),
            &sample(2, 36, 106),
            &sample(2, 2 * 36, 107),
            &["∂E/∂W", "∂E/∂b"],
        ),
    );
    report
}

fn window_of(size: usize, stride: usize, pad: usize) -> Window {
    window(size, size, stride, pad)
}

/// Where max pooling's backward sends each `dY`, right or wrong, for [`pool_backward_like`].
#[derive(Clone, Copy, PartialEq)]
enum Route {
    /// To the last of tied largest inputs.
    Last,
    /// The whole `dY` to every tied largest input.
    AllTied,
    /// `dY / (FH·FW)` to every input: average pooling's backward.
    Average,
    /// `dY` to every input of the window.
    Everywhere,
    /// To the smallest input.
    Min,
    /// To the first largest, with `=` where `+=` belongs.
    Overwrite,
}

/// Max pooling's `dX` for `x`, `dy`, routed by `route`.
fn pool_backward_like(
    x: &DMatrix<f64>,
    input: Shape,
    window: &Window,
    dy: &DMatrix<f64>,
    route: Route,
) -> DMatrix<f64> {
    let (oh_count, ow_count) = window.output(input).expect("the cases fit");
    let out = Shape::new(input.channels, oh_count, ow_count);
    let mut dx = DMatrix::zeros(x.nrows(), input.len());
    for n in 0..x.nrows() {
        for c in 0..input.channels {
            for oh in 0..oh_count {
                for ow in 0..ow_count {
                    let d = dy[(n, out.index(c, oh, ow))];
                    let pixels: Vec<usize> = (0..window.height)
                        .flat_map(|i| (0..window.width).map(move |j| (i, j)))
                        .map(|(i, j)| {
                            input.index(c, oh * window.stride + i, ow * window.stride + j)
                        })
                        .collect();
                    let values: Vec<f64> = pixels.iter().map(|&p| x[(n, p)]).collect();
                    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
                    let tied: Vec<usize> = pixels
                        .iter()
                        .zip(&values)
                        .filter(|(_, v)| **v == max)
                        .map(|(p, _)| *p)
                        .collect();
                    let share = d / pixels.len() as f64;
                    match route {
                        Route::Last => dx[(n, tied[tied.len() - 1])] += d,
                        Route::AllTied => tied.iter().for_each(|&p| dx[(n, p)] += d),
                        Route::Average => pixels.iter().for_each(|&p| dx[(n, p)] += share),
                        Route::Everywhere => pixels.iter().for_each(|&p| dx[(n, p)] += d),
                        Route::Min => {
                            let at = pixels
                                .iter()
                                .zip(&values)
                                .find(|(_, v)| **v == min)
                                .map(|(p, _)| *p);
                            dx[(n, at.expect("a window has pixels"))] += d;
                        }
                        Route::Overwrite => dx[(n, tied[0])] = d,
                    }
                }
            }
        }
    }
    dx
}

/// `rows × cols` distinct numbers 0.05 apart, shuffled: no ties, and no two
/// inputs close enough for a numerical gradient's nudge to swap a maximum.
fn distinct(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    let mut values: Vec<f64> = (0..rows * cols).map(|i| 0.05 * i as f64 - 3.0).collect();
    values.shuffle(&mut StdRng::seed_from_u64(seed));
    DMatrix::from_vec(rows, cols, values)
}

/// Checks max pooling's backward: each `dY` goes to the input its window's
/// maximum came from (the first, in the window's row-by-row order, when
/// several are equal), added where windows overlap, 0 elsewhere.
/// `new(input, pool_h, pool_w, stride)` makes the learner's layer; its
/// forward is given.
pub fn max_pool_backward<L: Layer<f64>>(new: impl Fn(Shape, usize, usize, usize) -> L) -> Report {
    let mut report = Report::new();
    let mut case = |name: &str,
                    x: &DMatrix<f64>,
                    input: Shape,
                    size: usize,
                    stride: usize,
                    dy: &DMatrix<f64>,
                    named: &[(&str, Route)]| {
        let mut reference =
            ch7_cnn::MaxPooling::<f64>::new(input, size, size, stride).expect("the cases fit");
        Layer::forward(&mut reference, x);
        let want = Layer::backward(&mut reference, dy);
        let mut layer = new(input, size, size, stride);
        layer.forward(x);
        let got = layer.backward(dy);
        let w = window(size, size, stride, 0);
        let mistakes: Vec<(&str, DMatrix<f64>)> = named
            .iter()
            .map(|&(words, route)| (words, pool_backward_like(x, input, &w, dy, route)))
            .collect();
        report.check(name, compare::matrix("dX", &got, &want, None, &mistakes));
    };
    let average = (
        "spread dY evenly over the window: that is AVERAGE pooling's backward; max pooling's output \
         is one input, so only that input (the maximum) gets dY",
        Route::Average,
    );
    let everywhere = (
        "give dY to every input of the window: only the maximum reached y, the others get 0",
        Route::Everywhere,
    );
    let min = (
        "send dY to the smallest input: it goes to the largest",
        Route::Min,
    );
    let book = rows(
        1,
        16,
        &[
            1., 2., 1., 0., //
            0., 1., 2., 3., //
            3., 0., 1., 2., //
            2., 4., 0., 1.,
        ],
    );
    case(
        "the chapter's example: one 1×4×4 image, 2×2 windows, stride 2, dY = 10, 20, 30, 40",
        &book,
        Shape::new(1, 4, 4),
        2,
        2,
        &rows(1, 4, &[10., 20., 30., 40.]),
        &[average, everywhere, min],
    );
    let input = Shape::new(2, 6, 6);
    case(
        "three images of 2 channels 6×6, 2×2 windows, stride 2",
        &distinct(3, input.len(), 90),
        input,
        2,
        2,
        &sample(3, 18, 91),
        &[average, everywhere, min],
    );
    let input = Shape::new(1, 5, 5);
    case(
        "overlapping windows: two 1×5×5 images, 3×3 windows, stride 1 (an input can be the maximum of several)",
        &distinct(2, input.len(), 92),
        input,
        3,
        1,
        &sample(2, 9, 93),
        &[
            (
                "write dX with = where += belongs: an input that is the maximum of several windows collects each one's dY",
                Route::Overwrite,
            ),
            average,
            everywhere,
        ],
    );
    // Ties: the first window all 1s, the second with two equal maxima, the
    // others distinct. Forward keeps the first maximum (a strict >), so the
    // course's backward sends dY there; a numerical gradient cannot decide at a tie.
    let ties = rows(
        1,
        16,
        &[
            1., 1., 0., 2., //
            1., 1., 2., 1., //
            3., 0., 5., 6., //
            1., 2., 7., 4.,
        ],
    );
    case(
        "ties: equal maxima in a window, dY goes to the first (row by row), as forward's strict > keeps it",
        &ties,
        Shape::new(1, 4, 4),
        2,
        2,
        &rows(1, 4, &[10., 20., 30., 40.]),
        &[
            (
                "give dY to every tied maximum: y is ONE of them, so dY goes to one, the course's to \
                 the first in the window (compare with > as the forward does, not ≥)",
                Route::AllTied,
            ),
            (
                "give dY to the last tied maximum: the course's goes to the first in the window, \
                 the one forward keeps (compare with >, not ≥)",
                Route::Last,
            ),
            average,
        ],
    );
    let input = Shape::new(2, 5, 5);
    report.check(
        "a gradient check: two images of 2 channels 5×5, 3×3 windows, stride 2",
        gradient_check_named(
            &mut new(input, 3, 3, 2),
            &distinct(2, input.len(), 94),
            &sample(2, 8, 95),
            &[],
        ),
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fails_with;

    #[test]
    fn the_wrong_layouts_differ_from_the_course_on_the_last_case() {
        // Otherwise a named mistake could never be told apart.
        let case = &cases()[3];
        let positions = case.window.output(case.input).unwrap();
        let x = sample(case.images, case.input.len(), 1);
        let right = im2col_like(&x, case.input, &case.window, positions, Layout::Course, 0.0);
        let mut course = DMatrix::zeros(0, 0);
        ch7_cnn::im2col::im2col(&x, case.input, &case.window, positions, &mut course);
        assert_eq!(right, course);
        for (layout, name) in MISTAKES {
            assert_ne!(
                im2col_like(&x, case.input, &case.window, positions, layout, 0.0),
                course,
                "{name}"
            );
        }
    }

    #[test]
    fn im2col_passes_on_the_course_and_names_each_wrong_layout() {
        let report = im2col(ch7_cnn::im2col::im2col);
        assert!(report.passed(), "{report}");
        for (layout, name) in MISTAKES {
            let report = im2col(|x, input, window, positions, col| {
                *col = im2col_like(x, input, window, positions, layout, 0.0);
            });
            assert!(fails_with(&report, name), "{name}: {report}");
        }
        // Rows and columns of col swapped: the transposed shape.
        let report = im2col(|x, input, window, positions, col| {
            ch7_cnn::im2col::im2col(x, input, window, positions, col);
            *col = col.transpose();
        });
        assert!(fails_with(&report, "transposed"), "{report}");
        // Padding left as the buffer had it.
        let report = im2col(|x, input, window, positions, col| {
            let right = im2col_like(x, input, window, positions, Layout::Course, 0.0);
            let mut padded = im2col_like(x, input, window, positions, Layout::Course, f64::NAN);
            if col.shape() == right.shape() {
                padded.zip_apply(col, |p, c| {
                    if p.is_nan() {
                        *p = c
                    }
                });
            }
            *col = padded.map(|v| if v.is_nan() { 0.0 } else { v });
        });
        assert!(fails_with(&report, "leave the padding entries"), "{report}");
    }

    #[test]
    fn col2im_passes_on_the_course_and_fails_on_overwriting_and_a_stale_buffer() {
        let report = col2im(ch7_cnn::im2col::col2im);
        assert!(report.passed(), "{report}");
        let overwrite = |dcol: &DMatrix<f64>,
                         input: Shape,
                         window: &Window,
                         positions: (usize, usize),
                         dx: &mut DMatrix<f64>| {
            let n = dcol.nrows() / (positions.0 * positions.1);
            *dx = col2im_like(
                dcol,
                input,
                window,
                positions,
                Layout::Course,
                DMatrix::zeros(n, input.len()),
                true,
            );
        };
        let report = col2im(overwrite);
        assert!(fails_with(&report, "where += belongs"), "{report}");
        let stale = |dcol: &DMatrix<f64>,
                     input: Shape,
                     window: &Window,
                     positions: (usize, usize),
                     dx: &mut DMatrix<f64>| {
            let n = dcol.nrows() / (positions.0 * positions.1);
            let start = if dx.shape() == (n, input.len()) {
                dx.clone()
            } else {
                DMatrix::zeros(n, input.len())
            };
            *dx = col2im_like(dcol, input, window, positions, Layout::Course, start, false);
        };
        let report = col2im(stale);
        assert!(fails_with(&report, "set it to 0 first"), "{report}");
        let book = |dcol: &DMatrix<f64>,
                    input: Shape,
                    window: &Window,
                    positions: (usize, usize),
                    dx: &mut DMatrix<f64>| {
            let n = dcol.nrows() / (positions.0 * positions.1);
            *dx = col2im_like(
                dcol,
                input,
                window,
                positions,
                Layout::BookRows,
                DMatrix::zeros(n, input.len()),
                false,
            );
        };
        assert!(fails_with(&col2im(book), "image by image"));
    }

    /// A plain convolution whose backward can leave out col2im or transpose ∂E/∂W.
    struct PlainConv {
        layer: ch7_cnn::Convolution<f64>,
        no_col2im: bool,
        transposed_w: bool,
    }

    impl Layer<f64> for PlainConv {
        fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
            Layer::forward(&mut self.layer, x)
        }
        fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
            let dx = Layer::backward(&mut self.layer, dy);
            if self.transposed_w {
                self.layer.grad_w = self.layer.grad_w.transpose();
            }
            if self.no_col2im {
                let rows = dy.len() / self.layer.filters();
                let dy = ch7_cnn::layout::reshaped(dy.clone(), rows, self.layer.filters());
                return dy * self.layer.w.transpose();
            }
            dx
        }
        fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f64>, &DMatrix<f64>)) {
            Layer::for_each_param(&mut self.layer, visit)
        }
        fn name(&self) -> String {
            "broken".into()
        }
    }

    fn plain(
        no_col2im: bool,
        transposed_w: bool,
    ) -> impl Fn(Shape, Window, DMatrix<f64>, DMatrix<f64>) -> PlainConv {
        move |input, window, w, b| PlainConv {
            layer: ch7_cnn::Convolution::from_parameters(
                input,
                window,
                w,
                b,
                ch6_mlp::engine::dense::Kernel::Nalgebra,
            )
            .unwrap(),
            no_col2im,
            transposed_w,
        }
    }

    #[test]
    fn conv_backward_passes_on_the_course_and_fails_without_col2im_or_transposed() {
        let report = conv_backward(plain(false, false));
        assert!(report.passed(), "{report}");
        let report = conv_backward(plain(true, false));
        assert!(fails_with(&report, "col2im takes it back"), "{report}");
        let report = conv_backward(plain(false, true));
        assert!(fails_with(&report, "transposed"), "{report}");
    }

    /// The course's pooling forward, with a backward routed by `route`.
    struct Routed(ch7_cnn::MaxPooling<f64>, Route, DMatrix<f64>);

    impl Layer<f64> for Routed {
        fn name(&self) -> String {
            "broken".into()
        }
        fn forward(&mut self, x: &DMatrix<f64>) -> DMatrix<f64> {
            self.2 = x.clone();
            Layer::forward(&mut self.0, x)
        }
        fn backward(&mut self, dy: &DMatrix<f64>) -> DMatrix<f64> {
            pool_backward_like(&self.2, self.0.input, &self.0.window, dy, self.1)
        }
    }

    fn routed(route: Route) -> impl Fn(Shape, usize, usize, usize) -> Routed {
        move |input, h, w, s| {
            Routed(
                ch7_cnn::MaxPooling::new(input, h, w, s).unwrap(),
                route,
                DMatrix::zeros(0, 0),
            )
        }
    }

    #[test]
    fn pooling_passes_on_the_course_and_names_average_pooling_and_ties() {
        let course = |input, h, w, s| ch7_cnn::MaxPooling::<f64>::new(input, h, w, s).unwrap();
        assert!(
            max_pool_backward(course).passed(),
            "{}",
            max_pool_backward(course)
        );
        for (route, words) in [
            (Route::Average, "AVERAGE pooling"),
            (Route::Everywhere, "every input of the window"),
            (Route::Min, "smallest"),
            (Route::Overwrite, "where += belongs"),
        ] {
            let report = max_pool_backward(routed(route));
            assert!(fails_with(&report, words), "{words}: {report}");
        }
        // Ties alone: every check but the ties passes, and the tie check names it.
        for (route, words) in [
            (Route::AllTied, "every tied maximum"),
            (Route::Last, "the last tied"),
        ] {
            let report = max_pool_backward(routed(route));
            let failed: Vec<&str> = report
                .checks
                .iter()
                .filter(|c| c.failure.is_some())
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(failed.len(), 1, "{report}");
            assert!(failed[0].starts_with("ties"), "{report}");
            assert!(fails_with(&report, words), "{words}: {report}");
        }
    }
}
