//! Stage 4's engine: a training step allocates nothing of its own, the
//! layers keep their buffers from step to step (stage 3's plain layers
//! allocate every result). Counted with a global allocator that counts.
//!
//! One test in its own binary, so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ch5_backprop::Sgd;
use ch6_mlp::{Init, Mlp, OptimizerKind};
use nalgebra::DMatrix;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Allocations made by `steps` calls of `step`.
fn allocations(steps: usize, mut step: impl FnMut()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..steps {
        step();
    }
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

#[test]
fn training_steps_reuse_their_buffers() {
    // The engine's training step (load the batch, forward, backward, update)
    // allocates nothing of its own once its buffers are sized: only the
    // matrix-product kernel takes scratch memory, at most a packing buffer
    // or two per product (8 products a step for three layers).
    let pixels = (0..64 * 784).map(|i| (i * 7 % 256) as u8).collect();
    let labels = (0..64).map(|i| (i % 10) as u8).collect();
    let data = mnist::Dataset::from_parts(pixels, labels);
    let batch: Vec<usize> = (0..32).collect();
    let mut engine = 0;
    for kind in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let mut mlp = Mlp::<f32>::new(&[784, 100, 50, 10], Init::He, 1, 1);
        let mut optimizer = kind.build::<f32>(0.01);
        // The first step sizes the buffers and the optimizer's memory.
        ch6_mlp::engine::train_step(&mut mlp, &data, &batch, optimizer.as_mut());
        let count = allocations(20, || {
            ch6_mlp::engine::train_step(&mut mlp, &data, &batch, optimizer.as_mut());
        });
        eprintln!("engine, {kind}: {count} allocations in 20 steps");
        assert!(
            count <= 20 * 2 * 8,
            "{kind}: {count} allocations in 20 steps of batch 32"
        );
        engine = count;
    }

    // Stage 3's plain layers, the same network, for contrast: they allocate every result.
    let mut net = Mlp::<f32>::new(&[784, 100, 50, 10], Init::He, 1, 1).plain_network();
    let sgd = Sgd::new(0.1f32);
    let x = DMatrix::from_fn(32, 784, |r, c| ((r + c) % 11) as f32 / 11.0);
    let t = DMatrix::from_fn(32, 10, |r, c| if r % 10 == c { 1.0 } else { 0.0 });
    let count = allocations(20, || {
        net.gradient(&x, &t);
        sgd.update(&mut net);
    });
    eprintln!("stage 3: {count} allocations in 20 steps");
    assert!(
        count > 3 * engine,
        "stage 3: {count} allocations in 20 steps, the engine {engine}"
    );
}
