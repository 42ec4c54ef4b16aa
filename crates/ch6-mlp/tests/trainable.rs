//! The engine's shared machinery on a network it has never seen: a
//! two-layer tanh network written here, in plain nalgebra, that implements
//! [`Trainable`] and nothing else. It is trained by the engine's one loop,
//! measured by its evaluation, saved and loaded by its model file, with no
//! loop, step or file code of its own: what a new stage's network gets by
//! implementing the trait.

use ch6_mlp::engine::evaluate::{accuracy, mistakes, predictions, probabilities};
use ch6_mlp::engine::model_file::{self, ModelError, ModelFile, Tensor};
use ch6_mlp::engine::optim::OptimizerKind;
use ch6_mlp::engine::train::{Measure, Schedule, TrainEvent, train};
use ch6_mlp::{Mlp, Trainable};
use mnist::{CLASSES, Dataset, IMAGE_SIZE};
use nalgebra::DMatrix;
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

/// `x: N × 784 → tanh(x·W1 + b1) → ·W2 + b2 → scores N × 10`.
struct TanhNet {
    w1: DMatrix<f32>,
    b1: DMatrix<f32>,
    w2: DMatrix<f32>,
    b2: DMatrix<f32>,
    grads: [DMatrix<f32>; 4],
    x: DMatrix<f32>,
    t: DMatrix<f32>,
    h: DMatrix<f32>,
    scores: DMatrix<f32>,
}

impl TanhNet {
    fn new(hidden: usize, seed: u64) -> TanhNet {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut draw = |rows: usize, cols: usize| {
            let normal = Normal::new(0.0, (1.0 / rows as f32).sqrt()).unwrap();
            DMatrix::from_fn(rows, cols, |_, _| normal.sample(&mut rng))
        };
        let (w1, w2) = (draw(IMAGE_SIZE, hidden), draw(hidden, CLASSES));
        TanhNet::from_parameters(
            w1,
            DMatrix::zeros(1, hidden),
            w2,
            DMatrix::zeros(1, CLASSES),
        )
    }

    fn from_parameters(
        w1: DMatrix<f32>,
        b1: DMatrix<f32>,
        w2: DMatrix<f32>,
        b2: DMatrix<f32>,
    ) -> TanhNet {
        let grads = [&w1, &b1, &w2, &b2].map(|p| DMatrix::zeros(p.nrows(), p.ncols()));
        let empty = DMatrix::zeros(0, 0);
        TanhNet {
            w1,
            b1,
            w2,
            b2,
            grads,
            x: empty.clone(),
            t: empty.clone(),
            h: empty.clone(),
            scores: empty,
        }
    }

    fn forward(&mut self) {
        let n = self.x.nrows();
        let ones = DMatrix::from_element(n, 1, 1.0f32);
        self.h = (&self.x * &self.w1 + &ones * &self.b1).map(f32::tanh);
        self.scores = &self.h * &self.w2 + &ones * &self.b2;
    }
}

impl Trainable<f32> for TanhNet {
    const FORMAT: &'static str = "tanh-net";

    fn load_batch(&mut self, data: &Dataset, indices: &[usize]) {
        self.x = data.batch_images(indices);
        self.t = data.batch_one_hot(indices);
    }

    fn gradient(&mut self) -> f32 {
        self.forward();
        let n = self.x.nrows() as f32;
        let mut loss = 0.0;
        let mut dscores = self.scores.clone();
        for (r, mut row) in dscores.row_iter_mut().enumerate() {
            let max = row.max();
            row.apply(|v| *v = (*v - max).exp());
            let sum = row.sum();
            row.apply(|v| *v /= sum);
            let label = (0..CLASSES).find(|&c| self.t[(r, c)] == 1.0).unwrap();
            loss -= row[label].ln();
            row[label] -= 1.0;
        }
        dscores /= n;
        let dh = (&dscores * self.w2.transpose()).component_mul(&self.h.map(|h| 1.0 - h * h));
        self.grads = [
            self.x.transpose() * &dh,
            DMatrix::from_fn(1, dh.ncols(), |_, c| dh.column(c).sum()),
            self.h.transpose() * &dscores,
            DMatrix::from_fn(1, CLASSES, |_, c| dscores.column(c).sum()),
        ];
        loss / n
    }

    fn scores(&mut self) -> &DMatrix<f32> {
        self.forward();
        &self.scores
    }

    fn for_each_param(&mut self, visit: &mut dyn FnMut(&mut DMatrix<f32>, &DMatrix<f32>)) {
        let params = [&mut self.w1, &mut self.b1, &mut self.w2, &mut self.b2];
        for (param, grad) in params.into_iter().zip(&self.grads) {
            visit(param, grad);
        }
    }

    fn describe(&self) -> String {
        format!("784-{}-10 tanh", self.w1.ncols())
    }

    fn parameter_count(&self) -> usize {
        self.w1.len() + self.b1.len() + self.w2.len() + self.b2.len()
    }

    fn model(&self) -> (Vec<(&'static str, String)>, Vec<Tensor>) {
        let tensors = vec![
            Tensor::matrix("w1", &self.w1),
            Tensor::vector("b1", &self.b1),
            Tensor::matrix("w2", &self.w2),
            Tensor::vector("b2", &self.b2),
        ];
        (vec![("hidden", self.w1.ncols().to_string())], tensors)
    }

    fn from_model(file: &ModelFile, _threads: usize) -> Result<TanhNet, ModelError> {
        let hidden = file.number("hidden")?;
        let what = format!("784-{hidden}-10 tanh");
        Ok(TanhNet::from_parameters(
            file.matrix("w1", IMAGE_SIZE, hidden, &what)?,
            file.vector("b1", hidden, &what)?,
            file.matrix("w2", hidden, CLASSES, &what)?,
            file.vector("b2", CLASSES, &what)?,
        ))
    }
}

/// `n` made-up images whose label is written into their pixels (every
/// tenth pixel from the label's on is bright), so a network can learn them.
fn learnable(n: usize, seed: usize) -> Dataset {
    let labels: Vec<u8> = (0..n).map(|i| ((i * 7 + seed) % 10) as u8).collect();
    let mut pixels = vec![0u8; n * IMAGE_SIZE];
    for (i, &label) in labels.iter().enumerate() {
        let image = &mut pixels[i * IMAGE_SIZE..(i + 1) * IMAGE_SIZE];
        for (p, v) in image.iter_mut().enumerate() {
            *v = if p % 10 == label as usize {
                200
            } else {
                ((p * 31 + i * 17 + seed) % 60) as u8
            };
        }
    }
    Dataset::from_parts(pixels, labels)
}

#[test]
fn a_new_network_trains_saves_loads_and_evaluates_through_the_engine() {
    let (train_set, test) = (learnable(300, 0), learnable(100, 3));
    let mut net = TanhNet::new(16, 7);
    let before = accuracy(&mut net, &test);
    let mut optimizer = OptimizerKind::Adam.build::<f32>(0.01);
    let schedule = Schedule {
        epochs: 4,
        batch_size: 32,
        drop_last: false,
        last_epoch_steps: None,
        learning_rate: 0.01,
        decay_epochs: 2,
        seed: 1,
    };
    let measure = Measure {
        train: Some(&train_set),
        test: Some(&test),
        every: 2,
        ..Measure::default()
    };
    let mut events = Vec::new();
    let trained = train(
        &mut net,
        optimizer.as_mut(),
        &schedule,
        &train_set,
        measure,
        None,
        |e| {
            events.push(e);
            Ok::<_, ()>(())
        },
    )
    .unwrap();
    // 4 epochs of ⌈300/32⌉ = 10 steps, measured after epochs 2 and 4.
    let losses: Vec<f64> = (events.iter())
        .filter_map(|e| match e {
            TrainEvent::Step(loss) => Some(*loss),
            TrainEvent::Evaluated(_) => None,
        })
        .collect();
    assert_eq!(losses.len(), 40);
    assert_eq!(events.len(), 42);
    assert!(
        losses[39] < 0.5 * losses[0],
        "{} → {}",
        losses[0],
        losses[39]
    );
    assert_eq!(trained.epoch_seconds.len(), 4);
    let test_accuracy = trained.accuracies.test.unwrap();
    assert!(trained.accuracies.train.unwrap() > 0.9, "{trained:?}");
    assert!(
        test_accuracy > 0.9 && before < 0.5,
        "{before} → {test_accuracy}"
    );
    assert_eq!(test_accuracy, accuracy(&mut net, &test));

    // Saved and loaded by the engine's model file: the same network.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tanh.safetensors");
    std::fs::write(&path, model_file::to_bytes(&net)).unwrap();
    assert!(model_file::is_model::<TanhNet>(&path));
    assert!(!model_file::is_model::<Mlp<f32>>(&path));
    let mut loaded: TanhNet = model_file::load(&path, 1).unwrap();
    assert_eq!(loaded.describe(), "784-16-10 tanh");
    assert_eq!(loaded.parameter_count(), 784 * 16 + 16 + 16 * 10 + 10);
    assert_eq!(
        predictions(&mut loaded, &test),
        predictions(&mut net, &test)
    );
    assert_eq!(
        probabilities(&mut loaded, &test, 5),
        probabilities(&mut net, &test, 5)
    );
    let predicted = predictions(&mut loaded, &test).unwrap();
    for m in mistakes(&mut loaded, &test, &predicted, 10).unwrap() {
        assert_ne!(m.label, m.predicted);
    }

    // Another program's loader refuses it, naming the file and the format.
    let err = model_file::load::<Mlp<f32>>(&path, 1)
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("tanh.safetensors") && err.contains("`tanh-net`"),
        "{err}"
    );
}
