//! # The numbers behind the pictures of what the network learned
//!
//! Stage 6 of the course (chapter 7, "visualising a CNN"): the 30 filters
//! of the convolution before and after training (the book's figure 7-24),
//! and the 30 feature maps one test digit makes. Each small image becomes
//! grey levels scaled to its own range, black its smallest number and white
//! its largest ([`grey_levels`]). The program draws them (`--plot`, with
//! `train_cli::draw_tiles`); this module only computes.

use nalgebra::DMatrix;

/// A small image of a grid: `ink` row by row, `width` to a row, each from
/// 0 (white) to 1 (black), as `train_cli`'s `Colours::Ink` draws them.
#[derive(Clone, Debug, PartialEq)]
pub struct Image {
    pub ink: Vec<f64>,
    pub width: usize,
}

/// The filters `W: (C·FH·FW) × FN` (first channel) as `FH × FW` images.
pub fn filter_images(w: &DMatrix<f32>, fh: usize, fw: usize) -> Vec<DMatrix<f32>> {
    (0..w.ncols())
        .map(|f| DMatrix::from_fn(fh, fw, |i, j| w[(i * fw + j, f)]))
        .collect()
}

/// `m` in grey levels scaled to its own range: its smallest number black
/// (ink 1), its largest white (ink 0), `1 − (v − min)/(max − min)`.
pub fn grey_levels(m: &DMatrix<f32>) -> Image {
    let (lo, hi) = (m.min(), m.max());
    let range = if hi > lo { hi - lo } else { 1.0 };
    let ink = (0..m.nrows())
        .flat_map(|i| (0..m.ncols()).map(move |j| (i, j)))
        .map(|(i, j)| 1.0 - f64::from((m[(i, j)] - lo) / range))
        .collect();
    Image {
        ink,
        width: m.ncols(),
    }
}

/// `map` in the middle of a `height × width` frame filled with its smallest
/// number (for a ReLU map, 0): a `24 × 24` feature map of a `28 × 28` digit,
/// moved 2 pixels down and right, lies where the centres of its `5 × 5`
/// windows are, over the strokes that lit it.
pub fn centred(map: &DMatrix<f32>, height: usize, width: usize) -> DMatrix<f32> {
    let (h, w) = (height.max(map.nrows()), width.max(map.ncols()));
    let (top, left) = ((h - map.nrows()) / 2, (w - map.ncols()) / 2);
    DMatrix::from_fn(h, w, |i, j| {
        let inside =
            (top..top + map.nrows()).contains(&i) && (left..left + map.ncols()).contains(&j);
        if inside {
            map[(i - top, j - left)]
        } else {
            map.min()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_become_images_in_grey_levels_of_their_own_range() {
        let w = DMatrix::from_fn(25, 30, |r, c| (r * c) as f32);
        let images = filter_images(&w, 5, 5);
        assert_eq!(images.len(), 30);
        assert_eq!(images[3][(1, 2)], (7 * 3) as f32);
        let grey = grey_levels(&images[3]);
        assert_eq!(grey.width, 5);
        // filter 3 holds 0, 3, …, 72: 0 black, 72 white, 21 in between
        assert_eq!((grey.ink[0], grey.ink[24]), (1.0, 0.0));
        assert!((grey.ink[7] - (1.0 - 21.0 / 72.0)).abs() < 1e-6);
        // a constant image is all black rather than a division by 0
        assert!(grey_levels(&images[0]).ink.iter().all(|&v| v == 1.0));
    }

    #[test]
    fn a_map_is_centred_in_a_frame_of_its_smallest_number() {
        let map = DMatrix::from_fn(24, 24, |i, j| (i + j + 1) as f32);
        let framed = centred(&map, 28, 28);
        assert_eq!(framed.shape(), (28, 28));
        assert_eq!(framed[(2, 2)], map[(0, 0)]);
        assert_eq!(framed[(25, 25)], map[(23, 23)]);
        assert_eq!((framed[(0, 0)], framed[(27, 27)]), (1.0, 1.0));
        assert_eq!(centred(&map, 20, 20), map, "never cropped");
    }
}
