//! # Element-wise passes at the CPU's full vector width
//!
//! Stage 4 of the course (chapter 6): one of the engine's devices. A
//! program built for "any x86-64" may use only the vector instructions every
//! x86-64 has (SSE2: four f32 at a time); the compiler turns a loop such as
//! `for w in param { *w -= η·g }` into those. The machine the course runs
//! on very likely has AVX2 (eight at a time) or AVX-512 (sixteen), and ARM
//! machines have NEON. Building with `-C target-cpu=native` would use them,
//! but the program would then crash on an older CPU, and the course runs as
//! typed everywhere.
//!
//! [`vectorized`] does it at run time instead: the `pulp` crate compiles the
//! pass once per instruction set and runs the widest the CPU has (the same
//! way the `gemm` crate picks its kernels). Entry-by-entry arithmetic (`+`,
//! `·`, `/`, `√`, comparisons) is exactly rounded in every instruction set,
//! and the compiler never reorders a sum of floats on its own, so the
//! numbers are the same bit for bit; only the speed changes.

use crate::engine::devices::Device;

// ANCHOR: vectorized
/// Runs `pass` compiled for the widest vector instructions this CPU has
/// (AVX-512, AVX2 with FMA, NEON, or the baseline), chosen at run time.
///
/// `pass` should be a plain loop over slices, entry by entry: that is what
/// the compiler vectorizes. A call through a trait object inside it is not
/// compiled again, so the loop must be written inside the closure.
///
/// ```
/// let mut w = vec![1.0f32; 1000];
/// let g = vec![0.5f32; 1000];
/// ch6_mlp::engine::simd::vectorized(|| {
///     for (w, g) in w.iter_mut().zip(&g) {
///         *w -= 0.1 * g;
///     }
/// });
/// assert!(w.iter().all(|&w| w == 1.0 - 0.1 * 0.5));
/// ```
#[inline(always)]
pub fn vectorized<R>(pass: impl FnOnce() -> R) -> R {
    if Device::FullWidth.is_on() {
        pulp::Arch::new().dispatch(pass)
    } else {
        pass()
    }
}
// ANCHOR_END: vectorized

/// Asks the CPU to start bringing `bytes` into its cache now, so that a
/// pass over them a little later finds them there instead of waiting for
/// memory. A mini-batch gathers images from all over a 47 MB training set:
/// each image costs a wait for memory unless it was asked for in advance.
/// A hint, never a fault; on CPUs other than x86-64 it does nothing.
#[inline(always)]
pub fn prefetch(bytes: &[u8]) {
    if !Device::Prefetch.is_on() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    for line in bytes.chunks(64) {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        // SAFETY: every x86-64 CPU has SSE, and a prefetch only reads a
        // hint: it never faults, whatever the address.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(line.as_ptr().cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = bytes;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_vectorized_pass_gives_the_numbers_of_the_plain_one() {
        // RMSprop's rule, with its square root and division, on awkward numbers.
        let g: Vec<f32> = (0..1001)
            .map(|i| ((i * 37 % 101) as f32 - 50.0) * 1e-3)
            .collect();
        let rule = |w: &mut [f32], s: &mut [f32]| {
            for ((w, s), &g) in w.iter_mut().zip(s.iter_mut()).zip(&g) {
                *s = 0.9 * *s + 0.1 * g * g;
                *w -= 0.001 * g / (*s + 1e-7).sqrt();
            }
        };
        let (mut w1, mut s1) = (vec![0.3f32; 1001], vec![0.0f32; 1001]);
        let (mut w2, mut s2) = (w1.clone(), s1.clone());
        for _ in 0..3 {
            rule(&mut w1, &mut s1);
            vectorized(|| rule(&mut w2, &mut s2));
        }
        assert_eq!(w1, w2);
        assert_eq!(s1, s2);
    }
}
