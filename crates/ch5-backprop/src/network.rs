//! # A network of layers, and plain SGD
//!
//! Stage 3 of the course (chapter 5). A [`Network`] is a list of layers and a
//! loss layer. Predicting runs the layers forwards; the gradient runs them
//! forwards once and backwards once, each layer handing `∂E/∂X` down as the
//! next layer's `∂E/∂Y`. That one backward pass replaces the two loss
//! evaluations per parameter of stage 2's numerical gradient.

use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::layer::{Affine, Layer, Relu, Sigmoid, Tanh};
use crate::loss::{Loss, MeanSquaredError, SoftmaxWithLoss};

/// The activation between two affine layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    Relu,
    Sigmoid,
    Tanh,
}

impl Activation {
    /// A fresh layer of this kind.
    pub fn layer<T: RealField + Copy>(self) -> Box<dyn Layer<T>> {
        match self {
            Activation::Relu => Box::new(Relu::new()),
            Activation::Sigmoid => Box::new(Sigmoid::new()),
            Activation::Tanh => Box::new(Tanh::new()),
        }
    }
}

// ANCHOR: network
/// Layers applied in order, then a loss.
pub struct Network<T: RealField + Copy> {
    pub layers: Vec<Box<dyn Layer<T>>>,
    pub loss: Box<dyn Loss<T>>,
}

impl<T: RealField + Copy> Network<T> {
    pub fn new(layers: Vec<Box<dyn Layer<T>>>, loss: Box<dyn Loss<T>>) -> Network<T> {
        Network { layers, loss }
    }

    /// The network's output for `x: N × n_in`: every layer's forward in
    /// turn, without the loss (scores before softmax, for example).
    pub fn predict(&mut self, x: &DMatrix<T>) -> DMatrix<T> {
        let mut y = x.clone();
        for layer in &mut self.layers {
            y = layer.forward(&y);
        }
        y
    }

    /// The loss `E` for inputs `x: N × n_in` and targets `t: N × n_out`.
    pub fn loss(&mut self, x: &DMatrix<T>, t: &DMatrix<T>) -> T {
        let y = self.predict(x);
        self.loss.forward(&y, t)
    }

    /// One forward and one backward pass: afterwards every layer holds
    /// `∂E/∂W` and `∂E/∂b` for this batch. Returns the loss `E`.
    pub fn gradient(&mut self, x: &DMatrix<T>, t: &DMatrix<T>) -> T {
        let e = self.loss(x, t);
        // ∂E/∂E = 1: the loss layer starts the chain with ∂E/∂y.
        let mut dy = self.loss.backward();
        for layer in self.layers.iter_mut().rev() {
            dy = layer.backward(&dy);
        }
        e
    }

    /// Visits every `(parameter, gradient)` pair, layer by layer.
    pub fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        for layer in &mut self.layers {
            layer.for_each_param(visit);
        }
    }
}
// ANCHOR_END: network

impl<T: RealField + Copy> Network<T> {
    /// The fraction of rows of `x` whose largest output is at the label.
    pub fn accuracy(&mut self, x: &DMatrix<T>, labels: &[u8]) -> f64 {
        mnist::accuracy(&self.predict(x), labels)
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(|l| l.parameter_count()).sum()
    }

    /// The layers in words: `Affine 784→50, ReLU, Affine 50→10, SoftmaxWithLoss`.
    pub fn describe(&self) -> String {
        let mut names: Vec<String> = self.layers.iter().map(|l| l.name()).collect();
        names.push(self.loss.name());
        names.join(", ")
    }

    // ANCHOR: two_layer
    /// The book's chapter 5 `TwoLayerNet`: `Affine → activation → Affine →
    /// SoftmaxWithLoss`, weights `N(0, std²)`, biases 0.
    pub fn two_layer(
        input: usize,
        hidden: usize,
        output: usize,
        activation: Activation,
        init_std: f64,
        seed: u64,
    ) -> Network<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        Network::new(
            vec![
                Box::new(Affine::normal(input, hidden, init_std, &mut rng)),
                activation.layer(),
                Box::new(Affine::normal(hidden, output, init_std, &mut rng)),
            ],
            Box::new(SoftmaxWithLoss::new()),
        )
    }
    // ANCHOR_END: two_layer

    // ANCHOR: tanh_mlp
    /// The layer tutorial's network: for each pair of consecutive `sizes`, an
    /// affine layer (uniform init in `[−0.5, 0.5)`) followed by tanh, and mean
    /// squared error at the end. `[2, 3, 1]` is the XOR net,
    /// `[784, 100, 50, 10]` the MNIST one.
    pub fn tanh_mlp(sizes: &[usize], seed: u64) -> Network<T> {
        assert!(
            sizes.len() >= 2,
            "a network needs an input and an output size"
        );
        let mut rng = StdRng::seed_from_u64(seed);
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
        for pair in sizes.windows(2) {
            layers.push(Box::new(Affine::uniform(pair[0], pair[1], &mut rng)));
            layers.push(Box::new(Tanh::new()));
        }
        Network::new(layers, Box::new(MeanSquaredError::new()))
    }
    // ANCHOR_END: tanh_mlp
}

// ANCHOR: sgd
/// Stochastic gradient descent: `W ← W − η · ∂E/∂W` for every parameter,
/// with learning rate `η`.
pub struct Sgd<T> {
    pub learning_rate: T,
}

impl<T: RealField + Copy> Sgd<T> {
    pub fn new(learning_rate: T) -> Sgd<T> {
        Sgd { learning_rate }
    }

    /// One step down the gradients the last `Network::gradient` stored.
    pub fn update(&self, network: &mut Network<T>) {
        let eta = self.learning_rate;
        network.for_each_param(&mut |param, grad| {
            for (p, &g) in param.as_mut_slice().iter_mut().zip(grad.as_slice()) {
                *p -= eta * g;
            }
        });
    }
}
// ANCHOR_END: sgd
