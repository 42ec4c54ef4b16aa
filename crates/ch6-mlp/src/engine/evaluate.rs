//! # Measuring a trained network
//!
//! What a network predicts for a whole data set (scored in chunks, so no
//! 60,000-row matrix is ever built), the fraction it gets right, the
//! probabilities it gives one image, and the digits it gets wrong: written once, for every
//! [`Trainable`] network.

use mnist::Dataset;
use nalgebra::RealField;

use crate::engine::network::Trainable;

/// The predicted class of every image of `data`: the column of each row's
/// largest score, in chunks of the network's `eval_batch()`.
pub fn predictions<T: RealField + Copy>(net: &mut impl Trainable<T>, data: &Dataset) -> Vec<u8> {
    let chunk = net.eval_batch().max(1);
    let mut out = Vec::with_capacity(data.len());
    for start in (0..data.len()).step_by(chunk) {
        let indices: Vec<usize> = (start..(start + chunk).min(data.len())).collect();
        net.load_batch(data, &indices);
        out.extend(mnist::predictions(net.scores()));
    }
    out
}

/// The fraction of `data` classified right.
pub fn accuracy<T: RealField + Copy>(net: &mut impl Trainable<T>, data: &Dataset) -> f64 {
    mnist::fraction_correct(&predictions(net, data), data.labels())
}

/// The softmax probabilities of the classes for image `i` of `data`, from
/// its scores alone (a batch of one image), in f64.
pub fn probabilities<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
    i: usize,
) -> Vec<f64> {
    net.load_batch(data, &[i]);
    let scores = net.scores().map(ch5_backprop::train::to_f64);
    ch5_backprop::softmax(&scores).iter().copied().collect()
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

/// The first `n` images of `data` (in their order, none picked) that `net`
/// classifies wrong, given its `predicted` classes: what `evaluate --gallery` draws.
pub fn mistakes<T: RealField + Copy>(
    net: &mut impl Trainable<T>,
    data: &Dataset,
    predicted: &[u8],
    n: usize,
) -> Vec<Mistake> {
    let wrong: Vec<usize> = (0..data.len())
        .filter(|&i| predicted[i] != data.labels()[i])
        .take(n)
        .collect();
    wrong
        .into_iter()
        .map(|index| Mistake {
            index,
            label: data.labels()[index],
            predicted: predicted[index],
            confidence: probabilities(net, data, index)[predicted[index] as usize],
        })
        .collect()
}
// ANCHOR_END: mistakes
