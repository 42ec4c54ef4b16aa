//! # Data augmentation: digits moved by a pixel or two
//!
//! Stage 6 of the course (the book's chapter 8, "data augmentation"). A
//! network that has seen the 60,000 training digits twenty times knows them
//! by heart; the test digits it has never seen. Showing it each digit moved
//! a little, differently every epoch, gives it new training images for
//! free: a 7 moved two pixels to the left is still a 7, and a convolution,
//! whose filters are the same at every place, is made to learn exactly that.
//!
//! [`shifted_batch`] moves each image of a batch by its own random `(dy, dx)`,
//! each between `−max_shift` and `max_shift` pixels; what moves out of the
//! 28 × 28 frame is lost, what comes in is 0 (the background). The moved
//! images are a data set of their own, which the training loop loads as
//! it loads any batch (the engine's augmentation hook).

use mnist::{Dataset, IMAGE_SIZE};
use rand::{Rng, RngExt};

const SIDE: usize = 28;

// ANCHOR: shifted_batch
/// The images at `indices` of `data` as a data set of their own, in batch
/// order with their labels: image `r` moved down by `dy` and right by `dx`
/// pixels, both drawn uniformly from `−max_shift..=max_shift` for each
/// image; a pixel moved in from outside the frame is 0.
pub fn shifted_batch(
    data: &Dataset,
    indices: &[usize],
    max_shift: usize,
    rng: &mut impl Rng,
) -> Dataset {
    let s = max_shift as i64;
    let mut draw = || rng.random_range(-s..=s) as isize;
    let shifts: Vec<(isize, isize)> = indices.iter().map(|_| (draw(), draw())).collect();
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_SIZE);
    for (&i, &(dy, dx)) in indices.iter().zip(&shifts) {
        let image = data.image(i);
        pixels.extend((0..IMAGE_SIZE).map(|pixel| {
            // output pixel (h, w) shows the original pixel (h − dy, w − dx)
            let (h, w) = ((pixel / SIDE) as isize - dy, (pixel % SIDE) as isize - dx);
            let inside = (0..SIDE as isize).contains(&h) && (0..SIDE as isize).contains(&w);
            if inside {
                image[h as usize * SIDE + w as usize]
            } else {
                0
            }
        }));
    }
    let labels = indices.iter().map(|&i| data.labels()[i]).collect();
    Dataset::from_parts(pixels, labels)
}
// ANCHOR_END: shifted_batch

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    fn two_images() -> Dataset {
        // image 0: one bright pixel at (10, 20); image 1: pixel value = column
        let mut pixels = vec![0u8; 2 * IMAGE_SIZE];
        pixels[10 * SIDE + 20] = 255;
        for p in 0..IMAGE_SIZE {
            pixels[IMAGE_SIZE + p] = (p % SIDE) as u8;
        }
        Dataset::from_parts(pixels, vec![1, 2])
    }

    #[test]
    fn no_shift_is_the_plain_batch() {
        let data = two_images();
        let mut rng = StdRng::seed_from_u64(1);
        let moved = shifted_batch(&data, &[1, 0], 0, &mut rng);
        assert_eq!(
            moved.batch_images::<f32>(&[0, 1]),
            data.batch_images::<f32>(&[1, 0])
        );
        assert_eq!(moved.labels(), &[2, 1]);
    }

    #[test]
    fn each_image_moves_as_a_whole_within_the_bounds() {
        let data = two_images();
        let mut rng = StdRng::seed_from_u64(2);
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let moved = shifted_batch(&data, &[0], 2, &mut rng);
            // the one bright pixel is somewhere within 2 of (10, 20), and alone
            let bright: Vec<usize> = (0..IMAGE_SIZE)
                .filter(|&p| moved.image(0)[p] > 127)
                .collect();
            assert_eq!(bright.len(), 1);
            let (h, w) = (bright[0] / SIDE, bright[0] % SIDE);
            assert!(
                (8..=12).contains(&h) && (18..=22).contains(&w),
                "({h}, {w})"
            );
            seen.insert((h, w));
        }
        assert_eq!(seen.len(), 25, "every shift in −2..=2 × −2..=2 happens");
    }
}
