//! Stage 3 binary (placeholder).
fn main() {}
