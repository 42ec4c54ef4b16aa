//! # Measuring a trained network
//!
//! What a network predicts for a whole data set (scored in chunks, so no
//! 60,000-row matrix is ever built), the fraction it gets right, the
//! probabilities it gives one image, and the digits it gets wrong: written once, for every
//! [`Trainable`] network.

use mnist::Dataset;
use nalgebra::RealField;

use crate::engine::network::Trainable;

/// A forward pass that overflowed: a score of image `index` is NaN or
/// infinite, so the network gives no class and no probabilities (weights
/// far too large, such as a damaged or hand-edited model file's).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "the network's scores overflow (NaN or infinite) on image {index}: its weights are too large to give a prediction"
)]
pub struct Overflow {
    pub index: usize,
}

/// Checks that every score of the loaded batch, whose first image is image
/// `first` of its data set, is finite.
fn finite<T: RealField + Copy>(net: &mut impl Trainable<T>, first: usize) -> Result<(), Overflow> {
    let scores = net.scores();
    match (0..scores.nrows()).find(|&r| scores.row(r).iter().any(|s| !s.is_finite())) {
        Some(r) => Err(Overflow { index: first + r }),
        None => Ok(()),
    }
}

/// The predicted class of every image of `data`: the column of each row's
/// largest score, in chunks of the network's `eval_batch()`.
pub fn predictions<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
) -> Result<Vec<u8>, Overflow> {
    let chunk = net.eval_batch().max(1);
    let mut out = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(chunk) {
        let indices: Vec<usize> = (start..(start + chunk).min(data.len())).collect();
        net.load_batch(data, &indices);
        finite(net, start)?;
        out.extend(mnist::predictions(net.scores()));
    }
    Ok(out)
}

/// The fraction of `data` classified right (NaN when a score overflows:
/// no image is classified, as a training run that diverged shows).
pub fn accuracy<T: RealField + Copy>(net: &mut impl Trainable<T>, data: &Dataset) -> f64 {
    let predicted = predictions(net, data);
    predicted.map_or(f64::NAN, |p| mnist::fraction_correct(&p, data.labels()))
}

/// The softmax probabilities of the classes for image `i` of `data`, from
/// its scores alone (a batch of one image), in f64.
pub fn probabilities<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
    i: usize,
) -> Result<Vec<f64>, Overflow> {
    net.load_batch(data, &[i]);
    finite(net, i)?;
    let scores = net.scores().map(ch5_backprop::train::to_f64);
    Ok(ch5_backprop::softmax(&scores).iter().copied().collect())
}

// ANCHOR: mistakes
/// An image the network gets wrong: its index, true label, the class
/// predicted, and the probability the network gave that prediction.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Mistake {
    pub index: usize,
    pub label: u8,
    pub predicted: u8,
    pub confidence: f64,
}

impl From<Mistake> for (usize, u8, f64) {
    /// What a gallery shows of a mistake: the image's index, the class
    /// predicted, and the probability given to it.
    fn from(m: Mistake) -> (usize, u8, f64) {
        (m.index, m.predicted, m.confidence)
    }
}

/// The first `n` images of `data` (in their order, none picked) that `net`
/// classifies wrong, given its `predicted` classes: what `evaluate --gallery` draws.
pub fn mistakes<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
    predicted: &[u8],
    n: usize,
) -> Result<Vec<Mistake>, Overflow> {
    let wrong: Vec<usize> = (0..data.len())
        .filter(|&i| predicted[i] != data.labels()[i])
        .take(n)
        .collect();
    let mistake = |index: usize| {
        let p = probabilities(net, data, index)?;
        Ok(Mistake {
            index,
            label: data.labels()[index],
            predicted: predicted[index],
            confidence: p[predicted[index] as usize],
        })
    };
    wrong.into_iter().map(mistake).collect()
}
// ANCHOR_END: mistakes
