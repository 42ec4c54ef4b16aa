//! Stage 3 (placeholder while being written).
