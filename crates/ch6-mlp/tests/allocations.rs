//! A training step allocates nothing of its own: the layers keep their
//! buffers from step to step. Counted with a global allocator that counts.
//!
//! One test in its own binary, so no other test allocates meanwhile.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use ch5_backprop::{Activation, Network, Sgd};
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
    // One sample at a time, the 784-100-50-10 tanh network: no allocation at all.
    let mut net = Network::<f32>::tanh_mlp(&[784, 100, 50, 10], 1);
    let sgd = Sgd::new(0.1f32);
    let x = DMatrix::from_fn(1, 784, |_, c| (c % 7) as f32 / 7.0);
    let t = DMatrix::from_fn(1, 10, |_, c| if c == 3 { 1.0 } else { 0.0 });
    net.gradient(&x, &t); // the first step sizes the buffers
    sgd.update(&mut net);
    let count = allocations(20, || {
        net.gradient(&x, &t);
        sgd.update(&mut net);
    });
    assert_eq!(count, 0, "allocations in 20 per-sample steps");

    // A batch of 100 through the book's network: the five matrix products go
    // to matrixmultiply, which allocates its packing buffer once per product.
    // Nothing else allocates.
    let mut net = Network::<f64>::two_layer(784, 50, 10, Activation::Relu, 0.01, 1);
    let sgd = Sgd::new(0.1);
    let x = DMatrix::from_fn(100, 784, |r, c| ((r + c) % 11) as f64 / 11.0);
    let t = DMatrix::from_fn(100, 10, |r, c| if r % 10 == c { 1.0 } else { 0.0 });
    net.gradient(&x, &t);
    sgd.update(&mut net);
    let count = allocations(20, || {
        net.gradient(&x, &t);
        sgd.update(&mut net);
    });
    eprintln!("{count} allocations in 20 mini-batch steps");
    assert!(
        count <= 20 * 5,
        "{count} allocations in 20 mini-batch steps"
    );
}
