//! # Comparing the learner's answer with the right one, and naming the mistake
//!
//! Part of the exercise checks (see the crate root). A wrong matrix is
//! usually wrong in a recognisable way: the wrong shape (often the
//! transposed one), NaN or infinity, the right numbers times a constant
//! (−1: a sign; `N`: a missing or extra `1/N`; 2: a missing `/2`), or the
//! answer of a known mistake that the check computes and names. [`matrix`]
//! tries these in turn and says the first that fits.

use nalgebra::DMatrix;

/// Relative tolerance of every comparison: the exercises' answers are exact
/// formulas in f64, so any right answer is far closer than this.
pub const TOLERANCE: f64 = 1e-6;

/// Whether `got` and `want` agree to [`TOLERANCE`], relative to the larger
/// of 1 and `want`'s largest entry.
pub fn close(got: &DMatrix<f64>, want: &DMatrix<f64>) -> bool {
    got.shape() == want.shape() && max_difference(got, want) <= TOLERANCE * scale(want)
}

/// Whether two numbers agree to [`TOLERANCE`] (relative to `max(1, |want|)`).
pub fn close_number(got: f64, want: f64) -> bool {
    (got - want).abs() <= TOLERANCE * want.abs().max(1.0)
}

fn scale(m: &DMatrix<f64>) -> f64 {
    m.iter().fold(1.0_f64, |s, v| s.max(v.abs()))
}

fn max_difference(a: &DMatrix<f64>, b: &DMatrix<f64>) -> f64 {
    a.iter()
        .zip(b.iter())
        .fold(0.0_f64, |m, (a, b)| m.max((a - b).abs()))
}

/// Compares `got` (the learner's `what`) with `want`. `batch` is the batch
/// size `N` when a factor `N` means a mistake with `1/N`; `mistakes` are
/// named wrong answers (`("forgot the bias b", matrix)`) to recognise.
pub fn matrix(
    what: &str,
    got: &DMatrix<f64>,
    want: &DMatrix<f64>,
    batch: Option<usize>,
    mistakes: &[(&str, DMatrix<f64>)],
) -> Result<(), String> {
    let (r, c) = want.shape();
    if got.shape() != want.shape() {
        let hint = if got.shape() == (c, r) {
            "transposed: check the order of the product (the shapes are in the doc comment)"
        } else {
            "check the shapes in the doc comment"
        };
        return Err(format!(
            "{what} is {} × {}, it should be {r} × {c}: {hint}",
            got.nrows(),
            got.ncols()
        ));
    }
    if let Some(bad) = got.iter().find(|v| !v.is_finite()) {
        return Err(format!(
            "{what} contains {bad} (where the right answer is finite): \
             an exp or a division that overflowed, or a log of 0?"
        ));
    }
    if close(got, want) {
        return Ok(());
    }
    for (name, wrong) in mistakes {
        if close(got, wrong) {
            return Err(format!("{what} is wrong: it is what you get if you {name}"));
        }
    }
    if r == c && r > 1 && close(got, &want.transpose()) {
        return Err(format!(
            "{what} is the transpose of the right answer: check the order of the product"
        ));
    }
    if got.iter().all(|&v| v == 0.0) {
        return Err(format!("{what} is all zeros"));
    }
    if let Some(hint) = factor(what, got, want, batch) {
        return Err(hint);
    }
    let (i, _) =
        got.iter()
            .zip(want.iter())
            .enumerate()
            .fold((0, 0.0), |(best, d), (i, (g, w))| {
                let e = (g - w).abs();
                if e > d { (i, e) } else { (best, d) }
            });
    Err(format!(
        "{what} is wrong: entry [{}, {}] is {}, it should be {}",
        i % r,
        i / r,
        number(got[i]),
        number(want[i])
    ))
}

/// If `got` is `want` times a constant, the hint that constant gives.
fn factor(
    what: &str,
    got: &DMatrix<f64>,
    want: &DMatrix<f64>,
    batch: Option<usize>,
) -> Option<String> {
    let norm = want.norm_squared();
    if norm == 0.0 {
        return None;
    }
    let k = got.dot(want) / norm;
    if !close(got, &(want * k)) {
        return None;
    }
    let near = |x: f64| (k - x).abs() <= 1e-6 * x.abs().max(1.0);
    Some(if near(-1.0) {
        format!("{what} has the right size but the opposite sign: a sign flipped somewhere")
    } else if let Some(n) = batch.filter(|&n| n > 1 && near(n as f64)) {
        format!(
            "{what} is {n} times too large, and {n} is the batch size N: \
             a missing division by N?"
        )
    } else if let Some(n) = batch.filter(|&n| n > 1 && near(1.0 / n as f64)) {
        format!(
            "{what} is {n} times too small, and {n} is the batch size N: \
             did you divide by N twice (once too often)?"
        )
    } else if near(2.0) {
        format!("{what} is twice the right answer: a missing 1/2 (or 2h where h belongs)?")
    } else if near(0.5) {
        format!("{what} is half the right answer: a factor 2 missing?")
    } else {
        format!(
            "{what} is the right answer times {}: the shape of the formula is right, a constant is off",
            number(k)
        )
    })
}

/// A number printed short: 6 significant digits.
pub fn number(x: f64) -> String {
    if x == 0.0 || (1e-4..1e6).contains(&x.abs()) {
        let s = format!("{x:.6}");
        let s = s.trim_end_matches('0').trim_end_matches('.');
        s.to_string()
    } else {
        format!("{x:.5e}")
    }
}

/// A matrix from rows of numbers, for the checks' small inputs.
pub fn rows(rows: usize, cols: usize, values: &[f64]) -> DMatrix<f64> {
    DMatrix::from_row_slice(rows, cols, values)
}

/// A reproducible `rows × cols` matrix of numbers in `[-1, 1)`, with no
/// zeros and no two alike (an affine check with zeros could miss a mistake).
pub fn sample(rows: usize, cols: usize, seed: u64) -> DMatrix<f64> {
    use rand::{RngExt, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    DMatrix::from_fn(rows, cols, |_, _| {
        let v: f64 = rng.random_range(-1.0..1.0);
        if v.abs() < 0.05 { v + 0.1 } else { v }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_usual_mistakes() {
        let want = sample(3, 2, 1);
        assert!(matrix("dW", &want, &want, Some(4), &[]).is_ok());
        let hint = |got: &DMatrix<f64>| matrix("dW", got, &want, Some(4), &[]).unwrap_err();
        assert!(hint(&want.transpose()).contains("transposed"));
        assert!(hint(&(&want * 4.0)).contains("missing division by N"));
        assert!(hint(&(&want / 4.0)).contains("divide by N twice"));
        assert!(hint(&-&want).contains("opposite sign"));
        assert!(hint(&(&want * 2.0)).contains("twice"));
        assert!(hint(&want.map(|v| v / 0.0)).contains("inf"));
        assert!(hint(&DMatrix::zeros(3, 2)).contains("all zeros"));
        let mut off = want.clone();
        off[(2, 1)] += 1.0;
        assert!(hint(&off).contains("entry [2, 1]"));
        let named = matrix("y", &off, &want, None, &[("forgot b", off.clone())]).unwrap_err();
        assert!(named.contains("if you forgot b"), "{named}");
    }

    #[test]
    fn square_transposes_are_recognised_by_value() {
        let want = sample(3, 3, 2);
        let hint = matrix("dX", &want.transpose(), &want, None, &[]).unwrap_err();
        assert!(hint.contains("transpose"), "{hint}");
    }

    #[test]
    fn numbers_print_short() {
        assert_eq!(number(2.2), "2.2");
        assert_eq!(number(-0.25), "-0.25");
        assert_eq!(number(1e-9), "1.00000e-9");
    }
}
