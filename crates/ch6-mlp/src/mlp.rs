//! # The multi-layer perceptron: stage 3's network, engineered
//!
//! Stage 4 of the course (chapter 6): the engine. The network is stage 3's
//! `Affine → ReLU → … → Affine → SoftmaxWithLoss` with the same formulas,
//! built for speed rather than for reading:
//! - the affine layers are [`Dense`], with kept buffers and the `gemm` crate;
//! - ReLU runs in place on each layer's output, and its backward in place on
//!   the gradient coming down (`y > 0` where `x > 0`, so the output is the mask),
//!   both at the CPU's full vector width ([`crate::engine::simd`]);
//! - softmax and cross-entropy are one fused pass over kept buffers;
//! - a mini-batch is copied into a kept buffer image by image, as the file
//!   stores it, and the first layer reads it transposed in place ([`Mlp::load_batch`]).
//!
//! So a training step allocates nothing of its own, only the product
//! kernel its scratch (`tests/allocations.rs` counts), and
//! the tests below check the engine against stage 3's plain layers.

use ch5_backprop::{Affine, Layer, Network, Relu, SoftmaxWithLoss};
use mnist::{CLASSES, Dataset, IMAGE_SIZE};
use nalgebra::{DMatrix, RealField};
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::engine::Trainable;
use crate::engine::dense::{Dense, Kernel, Operand, resize_buffer};
use crate::engine::layers::{relu, relu_backward, scores_gradient, softmax_cross_entropy};
use crate::engine::model_file::{ModelError, ModelFile, Tensor};
use crate::engine::simd::{prefetch, vectorized};
use crate::init::Init;

// ANCHOR: mlp
/// A ReLU network of `sizes` (`[784, 100, 200, 10]`: two hidden layers),
/// trained with softmax cross-entropy.
pub struct Mlp<T: RealField + Copy> {
    /// Units per layer, input first, classes last.
    pub sizes: Vec<usize>,
    /// One `Dense` per pair of sizes; ReLU after each but the last.
    pub layers: Vec<Dense<T>>,
    /// The current mini-batch stored image by image, `xᵀ: 784 × batch` (column
    /// `r` holds image `r`'s pixels / 255, in the file's order), which the first
    /// layer reads in place as `x: batch × 784`; and `t: batch × 10` one-hot.
    xt: DMatrix<T>,
    t: DMatrix<T>,
    /// Softmax probabilities `batch × 10`, then `∂E/∂a = (y − t)/N` in its own buffer.
    probabilities: DMatrix<T>,
    dscores: DMatrix<T>,
}
// ANCHOR_END: mlp

impl<T: RealField + Copy> Mlp<T> {
    /// A fresh network: weights drawn by `init` from `seed`, biases 0. Its
    /// products may use `threads` threads when they are large.
    pub fn new(sizes: &[usize], init: Init, seed: u64, threads: usize) -> Mlp<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        let params = sizes
            .windows(2)
            .map(|pair| {
                (
                    init.weights(pair[0], pair[1], &mut rng),
                    DMatrix::zeros(1, pair[1]),
                )
            })
            .collect();
        Mlp::from_parameters(sizes, params, Kernel::Engine { threads })
    }

    /// A network with the given weights and biases, `(W, b)` per layer
    /// (`W: n_in × n_out`, `b: 1 × n_out`, sizes following `sizes`).
    pub fn from_parameters(
        sizes: &[usize],
        params: Vec<(DMatrix<T>, DMatrix<T>)>,
        kernel: Kernel,
    ) -> Mlp<T> {
        assert!(
            sizes.len() >= 2,
            "a network needs an input and an output size"
        );
        assert_eq!(params.len(), sizes.len() - 1, "one (W, b) per layer");
        let layers = params
            .into_iter()
            .enumerate()
            .map(|(i, (w, b))| {
                assert_eq!(w.shape(), (sizes[i], sizes[i + 1]), "W of layer {i}");
                Dense::from_parameters(w, b, kernel)
            })
            .collect();
        Mlp {
            sizes: sizes.to_vec(),
            layers,
            xt: DMatrix::zeros(sizes[0], 0),
            t: DMatrix::zeros(0, sizes[sizes.len() - 1]),
            probabilities: DMatrix::zeros(0, 0),
            dscores: DMatrix::zeros(0, 0),
        }
    }

    /// `784-100-200-10 ReLU`.
    pub fn describe(&self) -> String {
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        format!("{} ReLU", sizes.join("-"))
    }

    /// Number of trainable numbers.
    pub fn parameter_count(&self) -> usize {
        self.layers.iter().map(Dense::parameter_count).sum()
    }

    /// Visits every `(parameter, gradient)` pair: `W1, b1, W2, b2, …`.
    pub fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        for layer in &mut self.layers {
            visit(&mut layer.w, &layer.grad_w);
            visit(&mut layer.b, &layer.grad_b);
        }
    }

    /// The first `n` units of the first layer, each the column of `W1` that
    /// weighs the 784 pixels: what `--plot-weights` draws as 28 × 28 images.
    pub fn first_layer_units(&self, n: usize) -> Vec<Vec<f64>> {
        let w1 = &self.layers[0].w;
        (w1.column_iter().take(n))
            .map(|unit| {
                unit.iter()
                    .map(|&w| ch5_backprop::train::to_f64(w))
                    .collect()
            })
            .collect()
    }

    /// Copies of `(W, b)` for each layer.
    pub fn parameters(&self) -> Vec<(DMatrix<T>, DMatrix<T>)> {
        self.layers
            .iter()
            .map(|l| (l.w.clone(), l.b.clone()))
            .collect()
    }

    /// The same network in stage 3's plain layers, with copies of these
    /// weights: `Affine → ReLU → … → Affine → SoftmaxWithLoss`. What the engine
    /// is checked and measured against.
    pub fn plain_network(&self) -> Network<T> {
        let last = self.layers.len() - 1;
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
        for (i, (w, b)) in self.parameters().into_iter().enumerate() {
            layers.push(Box::new(Affine::from_parameters(w, b)));
            if i < last {
                layers.push(Box::new(Relu::new()));
            }
        }
        Network::new(layers, Box::new(SoftmaxWithLoss::new()))
    }

    // ANCHOR: load_batch
    /// Copies the images and labels at `indices` of `data` into the batch
    /// buffers `xᵀ: 784 × batch` and `t: batch × 10` (allocating only when the
    /// batch size changes). Each image's 784 bytes become 784 neighbouring
    /// numbers, a pass the CPU does at full vector width, while the image
    /// after next is already on its way from memory.
    pub fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        let n = indices.len();
        resize_buffer(&mut self.xt, IMAGE_SIZE, n);
        resize_buffer(&mut self.t, n, CLASSES);
        let scale: T = nalgebra::convert(255.0);
        let columns = self.xt.as_mut_slice().chunks_mut(IMAGE_SIZE);
        for (k, (column, &i)) in columns.zip(indices).enumerate() {
            // The image after next is fetched while this one is converted.
            if let Some(&ahead) = indices.get(k + 2) {
                prefetch(data.image(ahead));
            }
            let image = data.image(i);
            vectorized(|| {
                for (v, &p) in column.iter_mut().zip(image) {
                    *v = nalgebra::convert::<f64, T>(p as f64) / scale;
                }
            });
        }
        self.t.fill(T::zero());
        for (r, &i) in indices.iter().enumerate() {
            self.t[(r, data.labels()[i] as usize)] = T::one();
        }
    }
    // ANCHOR_END: load_batch

    // ANCHOR: forward
    /// The scores (logits) `batch × 10` of the loaded batch: each `Dense` in
    /// turn, ReLU in place on every output but the last.
    fn forward(&mut self) -> &DMatrix<T> {
        let last = self.layers.len() - 1;
        // The first layer reads the batch; each other, the output below it.
        let mut input = Operand::transposed(&self.xt);
        for (i, layer) in self.layers.iter_mut().enumerate() {
            let y = layer.forward_from(input);
            if i < last {
                relu(y);
            }
            let layer: &Dense<T> = layer;
            input = Operand::of(&layer.y);
        }
        &self.layers[last].y
    }
    // ANCHOR_END: forward

    /// The mean loss of the loaded batch: forward, then softmax and
    /// cross-entropy fused (see [`softmax_cross_entropy`]).
    pub fn loss(&mut self) -> T {
        self.forward();
        let scores = &self.layers[self.layers.len() - 1].y;
        softmax_cross_entropy(scores, &self.t, &mut self.probabilities)
    }

    // ANCHOR: gradient
    /// One forward and one backward pass over the loaded batch: afterwards
    /// every layer holds `∂E/∂W` and `∂E/∂b`. Returns the mean loss.
    pub fn gradient(&mut self) -> T {
        let loss = self.loss();
        scores_gradient(&self.probabilities, &self.t, &mut self.dscores);
        // Each layer from the top: its input is the output of the layer below,
        // its dY the dX of the layer above; that dX, masked by the ReLU below
        // (its output is > 0 exactly where ReLU passed), is the next dY.
        for i in (0..self.layers.len()).rev() {
            let (below, layer, above) = around(&mut self.layers, i);
            let dy = above.map_or(&self.dscores, |above| &above.dx);
            match below {
                // The first layer reads the batch; its ∂E/∂X, towards the pixels, is of no use.
                None => layer.backward_params_from(Operand::transposed(&self.xt), dy),
                Some(below) => relu_backward(layer.backward(&below.y, dy), &below.y),
            }
        }
        loss
    }
    // ANCHOR_END: gradient
}

/// Layer `i` of `layers`, to change, with the layers just below and above
/// it, to read (`None` past either end).
fn around<T: RealField + Copy>(
    layers: &mut [Dense<T>],
    i: usize,
) -> (Option<&Dense<T>>, &mut Dense<T>, Option<&Dense<T>>) {
    let (below, rest) = layers.split_at_mut(i);
    let (layer, above) = rest.split_first_mut().expect("layer i exists");
    (below.last(), layer, above.first())
}

impl<T: RealField + Copy> Trainable<T> for Mlp<T> {
    const FORMAT: &'static str = "ch6-mlp";

    fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        Mlp::load_batch(self, data, indices);
    }

    fn gradient(&mut self) -> T {
        Mlp::gradient(self)
    }

    fn scores(&mut self) -> &DMatrix<T> {
        self.forward()
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<T>, &DMatrix<T>)) {
        Mlp::for_each_param(self, visit);
    }

    fn describe(&self) -> String {
        Mlp::describe(self)
    }

    fn parameter_count(&self) -> usize {
        Mlp::parameter_count(self)
    }

    // ANCHOR: model
    /// Tensors `dense0.weight` (`n_in × n_out`, row-major, the `W` of
    /// `Y = X·W + b`), `dense0.bias` (`n_out`), `dense1.weight`, …; metadata
    /// `sizes = 784,100,200,10` and `activation = relu`.
    fn model(&self) -> (Vec<(&'static str, String)>, Vec<Tensor>) {
        let mut tensors = Vec::new();
        for (k, (w, b)) in self.parameters().iter().enumerate() {
            let (w, b) = (w.map(f32_of), b.map(f32_of));
            tensors.push(Tensor::matrix(format!("dense{k}.weight"), &w));
            tensors.push(Tensor::vector(format!("dense{k}.bias"), &b));
        }
        let sizes: Vec<String> = self.sizes.iter().map(usize::to_string).collect();
        let metadata = vec![("sizes", sizes.join(",")), ("activation", "relu".into())];
        (metadata, tensors)
    }
    // ANCHOR_END: model

    fn from_model(file: &ModelFile, threads: usize) -> Result<Mlp<T>, ModelError> {
        if file.text("activation")? != "relu" {
            let found = file.text("activation")?;
            return Err(file.invalid(format!(
                "activation {:?} is not supported (only `relu`)",
                Some(found)
            )));
        }
        let sizes = file.numbers("sizes", None)?;
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(file.invalid(format!(
                "metadata sizes `{}` needs at least two sizes, none of them 0",
                file.text("sizes")?
            )));
        }
        let (inputs, outputs) = (sizes[0], sizes[sizes.len() - 1]);
        if inputs != mnist::IMAGE_SIZE || outputs != CLASSES {
            let found = format!("{inputs} inputs and gives {outputs} classes");
            return Err(file.not_mnist(found, "784 and 10"));
        }
        let architecture: Vec<String> = sizes.iter().map(usize::to_string).collect();
        let architecture = architecture.join("-");
        let mut params = Vec::new();
        for k in 0..sizes.len() - 1 {
            let (n_in, n_out) = (sizes[k], sizes[k + 1]);
            let w = file.matrix(&format!("dense{k}.weight"), n_in, n_out, &architecture)?;
            let b = file.vector(&format!("dense{k}.bias"), n_out, &architecture)?;
            params.push((w.map(nalgebra::convert), b.map(nalgebra::convert)));
        }
        Ok(Mlp::from_parameters(
            &sizes,
            params,
            Kernel::Engine { threads },
        ))
    }
}

/// A number of the network as the f32 a model file holds (exact for f32).
fn f32_of<T: RealField + Copy>(x: T) -> f32 {
    ch5_backprop::train::to_f64(x) as f32
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::evaluate::{Overflow, accuracy, mistakes, predictions, probabilities};
    use crate::engine::train_step;
    use ch5_backprop::gradient_check::{numerical_gradient, relative_errors};
    use rand_distr::{Distribution, Normal};

    /// `n` made-up images with pixels 0–255 and labels 0–9.
    fn made_up(n: usize, seed: u64) -> Dataset {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(128.0, 60.0).unwrap();
        let pixels = (0..n * IMAGE_SIZE)
            .map(|_| normal.sample(&mut rng).clamp(0.0, 255.0) as u8)
            .collect();
        let labels = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        Dataset::from_parts(pixels, labels)
    }

    /// Parameter `k` of `mlp`: `W` of layer `k/2` for even `k`, its `b` for odd `k`.
    fn param(mlp: &mut Mlp<f64>, k: usize) -> &mut DMatrix<f64> {
        let layer = &mut mlp.layers[k / 2];
        if k % 2 == 0 {
            &mut layer.w
        } else {
            &mut layer.b
        }
    }

    /// Every parameter gradient of `mlp` on the loaded batch, by backprop
    /// and by stage 3's numerical gradient, as relative errors (`W1, b1, …`).
    fn check_gradients(mlp: &mut Mlp<f64>) -> Vec<f64> {
        mlp.gradient();
        let mut analytic = Vec::new();
        mlp.for_each_param(&mut |_, g| analytic.push(g.clone()));
        let mut numerical = Vec::new();
        for (k, g) in analytic.iter().enumerate() {
            numerical.push(numerical_gradient(g.nrows(), g.ncols(), |i, d| {
                let original = param(mlp, k)[i];
                param(mlp, k)[i] = original + d;
                let e = mlp.loss();
                param(mlp, k)[i] = original;
                e
            }));
        }
        let pairs: Vec<_> = analytic.iter().zip(&numerical).collect();
        relative_errors(&pairs)
    }

    #[test]
    fn every_gradient_of_a_small_mlp_matches_the_numerical_one_in_f64() {
        // The very code that trains in f32, run in f64 and checked against
        // central differences: W1, b1, W2, b2, W3, b3 of 784-6-5-10.
        let data = made_up(4, 1);
        for init in [Init::Xavier, Init::XavierUniform, Init::He] {
            let mut mlp = Mlp::<f64>::new(&[784, 6, 5, 10], init, 3, 1);
            // Non-zero biases, so their gradients are tested away from 0 too.
            for layer in &mut mlp.layers {
                layer
                    .b
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = 0.01 * i as f64);
            }
            mlp.load_batch(&data, &[0, 1, 2, 3]);
            let errors = check_gradients(&mut mlp);
            assert_eq!(errors.len(), 6);
            for (k, e) in errors.iter().enumerate() {
                assert!(*e < 1e-6, "{init}: parameter {k} relative error {e}");
            }
        }
    }

    #[test]
    fn the_engine_computes_what_stage_3s_plain_layers_compute() {
        // The same weights in stage 3's Affine → ReLU → Affine → ReLU → Affine
        // → SoftmaxWithLoss and in the engine, both kernels: the same loss,
        // the same gradients, to rounding.
        let data = made_up(6, 5);
        let sizes = [784, 7, 6, 10];
        for kernel in [Kernel::Nalgebra, Kernel::Engine { threads: 2 }] {
            let engine = Mlp::<f64>::new(&sizes, Init::He, 8, 1);
            let mut mlp = Mlp::from_parameters(&sizes, engine.parameters(), kernel);
            let mut plain = mlp.plain_network();
            let batch = [5, 0, 3, 1];
            let (x, t) = (data.batch_images(&batch), data.batch_one_hot(&batch));
            mlp.load_batch(&data, &batch);
            let (e_engine, e_plain) = (mlp.gradient(), plain.gradient(&x, &t));
            assert!(
                (e_engine - e_plain).abs() < 1e-12,
                "{e_engine} vs {e_plain}"
            );
            let mut engine_grads = Vec::new();
            mlp.for_each_param(&mut |_, g| engine_grads.push(g.clone()));
            let mut k = 0;
            plain.for_each_param(&mut |_, g| {
                assert!(
                    (g - &engine_grads[k]).amax() < 1e-12,
                    "{kernel:?} parameter {k}"
                );
                k += 1;
            });
            assert_eq!(k, 6);
        }
    }

    #[test]
    fn batches_hold_scaled_pixels_and_one_hot_labels() {
        let data = made_up(5, 2);
        let mut mlp = Mlp::<f32>::new(&[784, 3, 10], Init::He, 1, 1);
        mlp.load_batch(&data, &[4, 0]);
        assert_eq!(mlp.xt.shape(), (784, 2));
        assert_eq!(mlp.xt[(10, 0)], data.image(4)[10] as f32 / 255.0);
        assert_eq!(mlp.xt[(783, 1)], data.image(0)[783] as f32 / 255.0);
        // p / 255 in f32 is p / 255 in f64 rounded to f32, for every byte.
        let mut all = Mlp::<f32>::new(&[784, 3, 10], Init::He, 1, 1);
        let bytes = (0..IMAGE_SIZE).map(|p| (p % 256) as u8).collect();
        all.load_batch(&Dataset::from_parts(bytes, vec![0]), &[0]);
        for p in 0..256 {
            assert_eq!(all.xt[p], (p as f64 / 255.0) as f32, "pixel value {p}");
        }
        assert_eq!(mlp.t.row(0).sum(), 1.0);
        assert_eq!(mlp.t[(0, data.labels()[4] as usize)], 1.0);
    }

    #[test]
    fn f32_and_f64_networks_from_one_seed_agree() {
        let data = made_up(8, 3);
        let mut a = Mlp::<f32>::new(&[784, 20, 10], Init::He, 5, 1);
        let mut b = Mlp::<f64>::new(&[784, 20, 10], Init::He, 5, 1);
        let mut oa = crate::engine::optim::OptimizerKind::Adam.build::<f32>(0.01);
        let mut ob = crate::engine::optim::OptimizerKind::Adam.build::<f64>(0.01);
        let batch: Vec<usize> = (0..8).collect();
        for _ in 0..5 {
            let (la, lb) = (
                train_step(&mut a, &data, &batch, oa.as_mut()),
                train_step(&mut b, &data, &batch, ob.as_mut()),
            );
            assert!(
                (la as f64 - lb).abs() < 1e-4 * lb.abs().max(1.0),
                "{la} vs {lb}"
            );
        }
        let (pa, pb) = (
            probabilities(&mut a, &data, 0).unwrap(),
            probabilities(&mut b, &data, 0).unwrap(),
        );
        assert!((pa.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for (x, y) in pa.iter().zip(&pb) {
            assert!((x - y).abs() < 1e-3);
        }
    }

    #[test]
    fn training_lowers_the_loss_on_a_fixed_batch() {
        let data = made_up(16, 4);
        let mut mlp = Mlp::<f32>::new(&[784, 32, 10], Init::He, 9, 1);
        let mut sgd = crate::engine::optim::OptimizerKind::Sgd.build::<f32>(0.1);
        let batch: Vec<usize> = (0..16).collect();
        let first = train_step(&mut mlp, &data, &batch, sgd.as_mut());
        let mut last = first;
        for _ in 0..50 {
            last = train_step(&mut mlp, &data, &batch, sgd.as_mut());
        }
        assert!(last < 0.1 * first, "loss {first} → {last}");
        assert_eq!(
            accuracy(&mut mlp, &data),
            1.0,
            "16 images can be learnt by heart"
        );
    }

    #[test]
    fn batches_are_the_datasets_own_numbers() {
        let data = made_up(4, 6);
        let mut mlp = Mlp::<f64>::new(&[784, 3, 10], Init::He, 1, 1);
        for indices in [
            vec![2, 0, 3],
            vec![1],
            vec![3, 3, 0],
            (0..4).cycle().take(19).collect(),
        ] {
            mlp.load_batch(&data, &indices);
            assert_eq!(mlp.xt.transpose(), data.batch_images::<f64>(&indices));
            assert_eq!(mlp.t, data.batch_one_hot::<f64>(&indices));
        }
    }

    #[test]
    fn mistakes_are_the_first_wrong_predictions_with_their_probability() {
        // An untrained network on 300 made-up images: most are wrong.
        let pixels = (0..300 * 784).map(|i| (i * 37 % 251) as u8).collect();
        let data = Dataset::from_parts(pixels, (0..300).map(|i| (i % 10) as u8).collect());
        let mut mlp = Mlp::<f32>::new(&[784, 20, 10], crate::Init::He, 3, 1);
        let predicted = predictions(&mut mlp, &data).unwrap();
        let wrong: Vec<usize> = (0..300)
            .filter(|&i| predicted[i] != data.labels()[i])
            .collect();
        assert!(wrong.len() > 12, "{}", wrong.len());
        let found = mistakes(&mut mlp, &data, &predicted, 12).unwrap();
        assert_eq!(
            found.iter().map(|m| m.index).collect::<Vec<_>>(),
            wrong[..12]
        );
        for m in found {
            assert_ne!(m.label, m.predicted);
            let p = probabilities(&mut mlp, &data, m.index).unwrap();
            let top = (0..10).max_by(|&i, &j| p[i].total_cmp(&p[j])).unwrap();
            assert_eq!(top, m.predicted as usize);
            assert_eq!(m.confidence, p[m.predicted as usize]);
        }
        assert_eq!(
            mistakes(&mut mlp, &data, &predicted, 1_000_000)
                .unwrap()
                .len(),
            wrong.len()
        );
    }

    #[test]
    fn a_forward_pass_that_overflows_is_an_error_not_a_guess() {
        // Finite weights so large that the scores overflow f32.
        let pixels = (0..30 * 784).map(|i| (i * 37 % 251) as u8).collect();
        let data = Dataset::from_parts(pixels, (0..30).map(|i| (i % 10) as u8).collect());
        let mut mlp = Mlp::<f32>::new(&[784, 20, 10], crate::Init::He, 3, 1);
        mlp.for_each_param(&mut |p, _| p.fill(1e30));
        let overflow = Overflow { index: 0 };
        assert_eq!(predictions(&mut mlp, &data), Err(overflow));
        assert_eq!(
            probabilities(&mut mlp, &data, 7),
            Err(Overflow { index: 7 })
        );
        assert!(accuracy(&mut mlp, &data).is_nan());
        let said = overflow.to_string();
        assert!(
            said.contains("overflow") && said.contains("image 0"),
            "{said}"
        );
    }
}
