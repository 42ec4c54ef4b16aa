//! # Register tiles: a matrix product for short sums
//!
//! Stage 4 of the course (chapter 6): one of the engine's devices. With
//! batches of 32, the first layer's `∂E/∂W = Xᵀ·dY` (784 × 100) is the
//! largest product of a training step, yet each of its 78,400 numbers is a
//! sum of only 32 products, one per image. The `gemm` crate is general:
//! depending on the shapes and layouts, it copies its operands into packed
//! panels of its own before its kernel runs, and it cuts the work into
//! blocks sized for the caches. With sums this short, that preparation and
//! each block's start and finish are a large share of the work.
//!
//! [`product`] is the kernel alone, for the case where no copy is needed:
//! the left factor's columns lie in memory one after the other (stage 4
//! stores a batch image by image, so `Xᵀ` is such a matrix, 784 numbers
//! per image). A block of 16 × 6 results lives in twelve of the CPU's
//! sixteen AVX2 registers, eight numbers each, for the whole sum; each step
//! of the sum loads 16 numbers of `a`'s column `p` and six of `b`'s row `p`
//! and does 96 multiply-adds, as twelve fused multiply-add instructions.
//! The block is stored once, at the end.
//!
//! Each result is `(((0 + a₀b₀) + a₁b₁) + …)`, one fused multiply-add per
//! term in order: what the `gemm` crate computes when the sum fits in one
//! of its blocks, so the numbers are the same bit for bit (a test holds
//! this). It runs only where the CPU has AVX2 and FMA, found at run time;
//! elsewhere [`product`] says no and the caller uses the `gemm` crate.

use crate::engine::devices::Device;

/// Sums at most this long go to [`product`]: the `gemm` crate sums longer
/// ones in blocks (whose size depends on the CPU's caches), so only short
/// sums are certain to be one block there, and the copying pays off
/// there least.
pub const MAX_K: usize = 64;

/// `out = a · b` by register tiles, if this CPU can: `a: m × k` column-major
/// (`a[i + p·m]`), `b: k × n` with entry `(p, j)` at
/// `b[p·b_row_stride + j·b_col_stride]`, `out: m × n` column-major, `k` at
/// most [`MAX_K`]. Returns false, and leaves `out` alone, where the CPU
/// lacks AVX2 or FMA or the shapes do not fit.
pub fn product(
    out: &mut [f32],
    a: &[f32],
    b: &[f32],
    (m, k, n): (usize, usize, usize),
    (b_row_stride, b_col_stride): (usize, usize),
) -> bool {
    let b_extent = match (k, n) {
        (0, _) | (_, 0) => 0,
        _ => (k - 1) * b_row_stride + (n - 1) * b_col_stride + 1,
    };
    let fits = k <= MAX_K && out.len() == m * n && a.len() >= m * k && b.len() >= b_extent;
    if !fits || !Device::RegisterTiles.is_on() {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let tiles = Tiles {
            out: out.as_mut_ptr(),
            a: a.as_ptr(),
            b: b.as_ptr(),
            m,
            k,
            b_row_stride,
            b_col_stride,
        };
        // SAFETY: the CPU has AVX2 and FMA (checked just above), and every
        // index the tiles touch is within the slices (see `block`).
        unsafe { tiles.all(n) };
        return true;
    }
    false
}

/// The operands of one [`product`], as pointers into its slices.
#[cfg(target_arch = "x86_64")]
struct Tiles {
    out: *mut f32,
    a: *const f32,
    b: *const f32,
    m: usize,
    k: usize,
    b_row_stride: usize,
    b_col_stride: usize,
}

#[cfg(target_arch = "x86_64")]
impl Tiles {
    /// Every block of `out`: 16 rows at a time (fewer in the last), within
    /// them 6 columns at a time (fewer in the last). A row band of `a`,
    /// 16 × k numbers, stays in the nearest cache while the band's blocks
    /// are computed.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn all(&self, n: usize) {
        for i in (0..self.m).step_by(16) {
            let rows = (self.m - i).min(16);
            for j in (0..n).step_by(6) {
                // SAFETY: the caller's CPU has AVX2 and FMA; i < m, j < n.
                unsafe {
                    match (rows == 16, (n - j).min(6)) {
                        (true, 6) => self.block::<6, true>(i, j, rows),
                        (true, 5) => self.block::<5, true>(i, j, rows),
                        (true, 4) => self.block::<4, true>(i, j, rows),
                        (true, 3) => self.block::<3, true>(i, j, rows),
                        (true, 2) => self.block::<2, true>(i, j, rows),
                        (true, _) => self.block::<1, true>(i, j, rows),
                        (false, 6) => self.block::<6, false>(i, j, rows),
                        (false, 5) => self.block::<5, false>(i, j, rows),
                        (false, 4) => self.block::<4, false>(i, j, rows),
                        (false, 3) => self.block::<3, false>(i, j, rows),
                        (false, 2) => self.block::<2, false>(i, j, rows),
                        (false, _) => self.block::<1, false>(i, j, rows),
                    }
                }
            }
        }
    }

    /// `out[i.., j..j+C] = Σ_p a[i.., p] · b[p, j..j+C]` for `rows` rows
    /// (16 when `FULL`, fewer otherwise, read and written through a mask so
    /// that nothing past row `m` is touched): 2 × C registers of eight sums.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn block<const C: usize, const FULL: bool>(&self, i: usize, j: usize, rows: usize) {
        use std::arch::x86_64::*;
        // Lane r of the two masks is on where row i + r (i + 8 + r) exists.
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask0 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows.min(8) as i32), lane);
        let mask1 = _mm256_cmpgt_epi32(_mm256_set1_epi32(rows.saturating_sub(8) as i32), lane);
        // SAFETY: a's entries (i + r, p) for r < rows, p < k are below m·k;
        // b's (p, j + c) for c < C (j + C ≤ n) are below b's extent; out's
        // (i + r, j + c) below m·n: all checked in `product`. Unmasked
        // loads and stores happen only for full blocks (i + 16 ≤ m); a
        // partial block's second half may start past the end, so its
        // address is only formed (wrapping_add), never read without a mask.
        unsafe {
            // ANCHOR: block
            // Rows i..i+8 and i+8..i+16 of output columns j..j+C.
            let mut top = [_mm256_setzero_ps(); C];
            let mut bottom = [_mm256_setzero_ps(); C];
            for p in 0..self.k {
                let column = self.a.add(i + p * self.m);
                let (a0, a1) = if FULL {
                    (_mm256_loadu_ps(column), _mm256_loadu_ps(column.add(8)))
                } else {
                    (
                        _mm256_maskload_ps(column, mask0),
                        _mm256_maskload_ps(column.wrapping_add(8), mask1),
                    )
                };
                let b_row = self.b.add(p * self.b_row_stride);
                for c in 0..C {
                    let b = _mm256_broadcast_ss(&*b_row.add((j + c) * self.b_col_stride));
                    top[c] = _mm256_fmadd_ps(a0, b, top[c]);
                    bottom[c] = _mm256_fmadd_ps(a1, b, bottom[c]);
                }
            }
            // ANCHOR_END: block
            for c in 0..C {
                let column = self.out.add(i + (j + c) * self.m);
                if FULL {
                    _mm256_storeu_ps(column, top[c]);
                    _mm256_storeu_ps(column.add(8), bottom[c]);
                } else {
                    _mm256_maskstore_ps(column, mask0, top[c]);
                    _mm256_maskstore_ps(column.wrapping_add(8), mask1, bottom[c]);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Numbers of both signs and many magnitudes, so that any other order
    /// of the sum would round differently somewhere.
    fn numbers(len: usize, seed: u64) -> Vec<f32> {
        let mut x = seed;
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((x >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * (1 + (x >> 60)) as f32
            })
            .collect()
    }

    fn gemm_crate(
        out: &mut [f32],
        a: &[f32],
        b: &[f32],
        (m, k, n): (usize, usize, usize),
        (rs, cs): (usize, usize),
    ) {
        // SAFETY: every index is within the slices (same extents as above).
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                m as isize,
                1,
                false,
                a.as_ptr(),
                m as isize,
                1,
                b.as_ptr(),
                cs as isize,
                rs as isize,
                1.0f32,
                1.0f32,
                false,
                false,
                false,
                gemm::Parallelism::None,
            );
        }
    }

    #[test]
    fn register_tiles_give_the_gemm_crates_numbers_to_the_bit() {
        // stage 4's shapes (dW of the first layer, dX of the last), and
        // awkward ones: rows not a multiple of 16, columns not of 6.
        let shapes = [
            (784, 32, 100),
            (32, 10, 200),
            (100, 17, 7),
            (37, 5, 13),
            (8, 64, 1),
            (1, 1, 1),
        ];
        for (m, k, n) in shapes {
            for transposed_b in [false, true] {
                let strides = if transposed_b { (n, 1) } else { (1, k) };
                let (a, b) = (numbers(m * k, 1), numbers(k * n, 2));
                let mut ours = vec![f32::NAN; m * n];
                let mut theirs = vec![0.0; m * n];
                if !product(&mut ours, &a, &b, (m, k, n), strides) {
                    // This CPU has no AVX2 and FMA: nothing to compare.
                    assert!(ours.iter().all(|x| x.is_nan()), "out must be left alone");
                    continue;
                }
                gemm_crate(&mut theirs, &a, &b, (m, k, n), strides);
                let same = ours
                    .iter()
                    .zip(&theirs)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{m}×{k}×{n}, b transposed {transposed_b}");
            }
        }
    }

    #[test]
    fn long_sums_and_short_slices_are_declined() {
        let (a, b) = (numbers(4 * 65, 1), numbers(65 * 3, 2));
        let mut out = vec![0.0; 12];
        assert!(!product(&mut out, &a, &b, (4, 65, 3), (1, 65)));
        assert!(!product(&mut out, &a[..10], &b, (4, 3, 3), (1, 3)));
        assert!(!product(&mut out[..11], &a, &b, (4, 3, 3), (1, 3)));
        assert!(out.iter().all(|&x| x == 0.0));
    }
}
