//! # Switching the engine's devices on and off
//!
//! Every device of the engine that exists only for speed computes the same
//! numbers with it or without it, so each can be turned off to measure what
//! it buys (the bench does, one row per device). This is the one switch for
//! all of them, for the whole program; all are on unless a bench turns
//! one off. (Which library multiplies a layer's matrices is not a device
//! but a choice per layer, `dense::Kernel`, so that the tests can run both
//! side by side.)

use std::sync::atomic::{AtomicBool, Ordering};

/// A device of the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// Element-wise passes at the CPU's full vector width, chosen at run
    /// time ([`crate::engine::simd::vectorized`]); off: the baseline width.
    FullWidth,
    /// Each next image fetched from memory while one is converted
    /// ([`crate::engine::simd::prefetch`]).
    Prefetch,
    /// The register tiles for short sums ([`crate::engine::tiles::product`]);
    /// off: the `gemm` crate computes those products too.
    RegisterTiles,
}

impl Device {
    pub const ALL: [Device; 3] = [Device::FullWidth, Device::Prefetch, Device::RegisterTiles];

    fn flag(self) -> &'static AtomicBool {
        static FULL_WIDTH: AtomicBool = AtomicBool::new(true);
        static PREFETCH: AtomicBool = AtomicBool::new(true);
        static REGISTER_TILES: AtomicBool = AtomicBool::new(true);
        match self {
            Device::FullWidth => &FULL_WIDTH,
            Device::Prefetch => &PREFETCH,
            Device::RegisterTiles => &REGISTER_TILES,
        }
    }

    /// Whether the device is on.
    pub fn is_on(self) -> bool {
        self.flag().load(Ordering::Relaxed)
    }

    /// Turns the device on or off for the whole program (for benches).
    pub fn set(self, on: bool) {
        self.flag().store(on, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_device_is_on_unless_turned_off() {
        assert!(Device::ALL.iter().all(|d| d.is_on()));
    }
}
