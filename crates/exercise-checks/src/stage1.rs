//! # Stage 1's exercises: softmax, cross-entropy, the central difference
//!
//! The checks for `crates/exercises/src/stage1/` (chapter "Stage 1: one
//! layer, numerical gradients"). The right answers come from stage 1's own
//! code (`ch4-numerical`); the tests at the bottom run each check on it (it
//! must pass) and on broken copies (they must fail, with the right hint).

use nalgebra::DMatrix;

use crate::Report;
use crate::compare::{self, close_number, number, rows};

/// Checks `softmax(a: N × k) -> N × k`, row by row.
pub fn softmax(softmax: impl Fn(&DMatrix<f64>) -> DMatrix<f64>) -> Report {
    let mut report = Report::new();
    let a = rows(2, 3, &[1.0, 2.0, 3.0, 0.5, -1.0, 2.0]);
    let want = ch4_numerical::softmax(&a);
    let got = softmax(&a);
    report.check(
        "small scores: y = exp(a) / Σ exp(a) in each row",
        compare::matrix(
            "softmax(a)",
            &got,
            &want,
            None,
            &[
                ("normalise each column instead of each row", {
                    let e = a.map(f64::exp);
                    let sums = e.row_sum();
                    DMatrix::from_fn(2, 3, |n, k| e[(n, k)] / sums[k])
                }),
                ("divide by the sum over the whole matrix, not each row's", {
                    let e = a.map(f64::exp);
                    &e / e.sum()
                }),
                ("forget the exp", {
                    let sums = a.column_sum();
                    DMatrix::from_fn(2, 3, |n, k| a[(n, k)] / sums[n])
                }),
            ],
        ),
    );
    let sums = softmax(&rows(3, 2, &[0.0, 0.0, 5.0, -5.0, 1.0, 2.0])).column_sum();
    report.check(
        "each row sums to 1",
        if sums.iter().all(|s| close_number(*s, 1.0)) {
            Ok(())
        } else {
            Err(format!(
                "the rows sum to {}: divide each row by its own sum",
                sums.iter()
                    .map(|s| number(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        },
    );
    let big = rows(1, 3, &[1000.0, 1001.0, 999.0]);
    let got = softmax(&big);
    report.check(
        "large scores (1000): no overflow",
        if got.iter().any(|v| !v.is_finite()) {
            Err(
                "softmax([1000, 1001, 999]) gave NaN: exp(1000) overflows to infinity \
                 and ∞/∞ is NaN. Subtract the row's largest score before exp: it cancels \
                 in the ratio and keeps every exp at most 1."
                    .into(),
            )
        } else {
            compare::matrix(
                "softmax([1000, 1001, 999])",
                &got,
                &ch4_numerical::softmax(&big),
                None,
                &[],
            )
        },
    );
    report
}

/// Checks `cross_entropy(y: N × k probabilities, labels: N digits) -> E`,
/// `E = −(1/N) Σ_n ln(y[n, t_n] + δ)`.
pub fn cross_entropy(cross_entropy: impl Fn(&DMatrix<f64>, &[u8]) -> f64) -> Report {
    let mut report = Report::new();
    let one = rows(1, 3, &[0.1, 0.7, 0.2]);
    let want = ch4_numerical::cross_entropy(&one, &[1]);
    let got = cross_entropy(&one, &[1]);
    report.check(
        "one sample: E = −ln(y[t] + δ)",
        if close_number(got, want) {
            Ok(())
        } else if close_number(got, -want) {
            Err(format!(
                "E is {}, it should be {}: the sign. −ln y is positive for y < 1 (a loss, \
                 the surprise at the right answer)",
                number(got),
                number(want)
            ))
        } else if close_number(got, -(0.1f64.ln() + 0.7f64.ln() + 0.2f64.ln())) {
            Err(
                "you summed −ln y over every class: only the right answer's y[t] counts \
                 (the one-hot target zeroes the others)"
                    .into(),
            )
        } else {
            Err(format!(
                "E is {} for y = [0.1, 0.7, 0.2] and label 1, it should be −ln(0.7 + δ) = {}",
                number(got),
                number(want)
            ))
        },
    );
    let batch = rows(
        4,
        3,
        &[
            0.1, 0.7, 0.2, 0.5, 0.25, 0.25, 0.2, 0.2, 0.6, 0.9, 0.05, 0.05,
        ],
    );
    let labels = [1, 0, 2, 1];
    let want = ch4_numerical::cross_entropy(&batch, &labels);
    let got = cross_entropy(&batch, &labels);
    report.check(
        "a batch of 4: the mean over the samples",
        if close_number(got, want) {
            Ok(())
        } else if close_number(got, 4.0 * want) {
            Err(format!(
                "E is {}, 4 times the right {}, and 4 is the batch size N: \
                 the loss is the mean over the batch, divide the sum by N",
                number(got),
                number(want)
            ))
        } else if close_number(got, want / 4.0) {
            Err("E is 4 times too small, and 4 is the batch size N: divided by N twice?".into())
        } else {
            Err(format!(
                "E is {} for the batch, it should be {}: is each row's own label used \
                 (y[n, labels[n]])?",
                number(got),
                number(want)
            ))
        },
    );
    let zero = rows(1, 2, &[1.0, 0.0]);
    let got = cross_entropy(&zero, &[1]);
    let want = ch4_numerical::cross_entropy(&zero, &[1]);
    report.check(
        "a right answer with probability 0: large but finite",
        if got.is_infinite() {
            Err(
                "E is infinite when y[t] = 0: ln 0 = −∞. Add the small δ = 1e-7 \
                 (ch4_numerical::DELTA) inside the logarithm, as the book does"
                    .into(),
            )
        } else if close_number(got, want) {
            Ok(())
        } else {
            Err(format!(
                "E is {} when y[t] = 0, it should be −ln(0 + δ) = {}",
                number(got),
                number(want)
            ))
        },
    );
    report
}

/// Checks `numerical_diff(f, x) -> f'(x)` by the central difference with `h = 1e-4`.
pub fn numerical_diff(diff: impl Fn(&dyn Fn(f64) -> f64, f64) -> f64) -> Report {
    let mut report = Report::new();
    let square = |x: f64| x * x;
    let got = diff(&square, 3.0);
    report.check(
        "f(x) = x² at x = 3: f'(3) = 6",
        if (got - 6.0).abs() < 1e-6 {
            Ok(())
        } else if (got - 6.0 - ch4_numerical::H).abs() < 1e-6
            || (got - 6.0 + ch4_numerical::H).abs() < 1e-6
        {
            Err(format!(
                "you got {}, off by h = 1e-4: that is the one-sided difference \
                 (f(x + h) − f(x)) / h, whose error is O(h). Use the central difference \
                 (f(x + h) − f(x − h)) / 2h: its error is O(h²), and 0 for x²",
                number(got)
            ))
        } else if (got - 12.0).abs() < 1e-4 {
            Err("you got 12, twice 6: divide by 2h, not h".into())
        } else if (got - 3.0).abs() < 1e-4 {
            Err("you got 3, half of 6: divide by 2h, not 4h (or by h for a one-sided step)".into())
        } else if got == 0.0 {
            Err("you got 0: if h is tiny (1e-50), x + h rounds to x. Use h = 1e-4".into())
        } else {
            Err(format!("you got {}, it should be 6", number(got)))
        },
    );
    let got = diff(&f64::sin, 1.0);
    report.check(
        "f(x) = sin x at x = 1: f'(1) = cos 1",
        if (got - 1f64.cos()).abs() < 1e-7 {
            Ok(())
        } else {
            Err(format!(
                "you got {}, it should be cos 1 = {} (the central difference with h = 1e-4 \
                 is within 1e-8)",
                number(got),
                number(1f64.cos())
            ))
        },
    );
    let points = std::sync::Mutex::new(Vec::new());
    let record = |x: f64| {
        points.lock().expect("no panic while held").push(x);
        x
    };
    diff(&record, 2.0);
    let points = points.into_inner().expect("no panic while held");
    let steps: Vec<f64> = points.iter().map(|x| x - 2.0).collect();
    let h = ch4_numerical::H;
    report.check(
        "f is evaluated at x + h and x − h, h = 1e-4",
        if steps.len() == 2
            && steps.iter().any(|s| (s - h).abs() < 1e-12)
            && steps.iter().any(|s| (s + h).abs() < 1e-12)
        {
            Ok(())
        } else {
            Err(format!(
                "f was evaluated at x + [{}]: the central difference evaluates it twice, at \
                 x + h and x − h with h = 1e-4 (smaller is not better: below about 1e-5 \
                 rounding error grows)",
                steps
                    .iter()
                    .map(|s| number(*s))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        },
    );
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::fails_with;

    #[test]
    fn softmax_passes_on_the_course_and_fails_without_the_max_shift() {
        assert!(softmax(ch4_numerical::softmax).passed());
        let unshifted = |a: &DMatrix<f64>| {
            let mut y = a.map(f64::exp);
            for mut row in y.row_iter_mut() {
                let s = row.sum();
                row /= s;
            }
            y
        };
        let report = softmax(unshifted);
        assert_eq!(
            report.checks.iter().filter(|c| c.failure.is_none()).count(),
            2
        );
        assert!(
            fails_with(&report, "Subtract the row's largest score"),
            "{report}"
        );
        let columns = |a: &DMatrix<f64>| ch4_numerical::softmax(&a.transpose()).transpose();
        assert!(
            fails_with(&softmax(columns), "column"),
            "{}",
            softmax(columns)
        );
    }

    #[test]
    fn cross_entropy_passes_on_the_course_and_fails_on_a_sum_and_without_delta() {
        assert!(cross_entropy(ch4_numerical::cross_entropy).passed());
        let summed =
            |y: &DMatrix<f64>, t: &[u8]| ch4_numerical::cross_entropy(y, t) * t.len() as f64;
        let report = cross_entropy(summed);
        assert!(fails_with(&report, "divide the sum by N"), "{report}");
        let no_delta = |y: &DMatrix<f64>, t: &[u8]| {
            -t.iter()
                .enumerate()
                .map(|(n, &t)| y[(n, t as usize)].ln())
                .sum::<f64>()
                / t.len() as f64
        };
        let report = cross_entropy(no_delta);
        assert!(fails_with(&report, "Add the small δ"), "{report}");
        let flipped = |y: &DMatrix<f64>, t: &[u8]| -ch4_numerical::cross_entropy(y, t);
        assert!(fails_with(&cross_entropy(flipped), "the sign"));
    }

    #[test]
    fn numerical_diff_passes_on_the_course_and_fails_on_a_forward_difference() {
        assert!(numerical_diff(|f, x| ch4_numerical::numerical_diff(f, x)).passed());
        let forward = |f: &dyn Fn(f64) -> f64, x: f64| (f(x + 1e-4) - f(x)) / 1e-4;
        assert!(fails_with(&numerical_diff(forward), "one-sided difference"));
        let no_two = |f: &dyn Fn(f64) -> f64, x: f64| (f(x + 1e-4) - f(x - 1e-4)) / 1e-4;
        assert!(fails_with(&numerical_diff(no_two), "divide by 2h"));
        let tiny = |f: &dyn Fn(f64) -> f64, x: f64| (f(x + 1e-50) - f(x - 1e-50)) / 2e-50;
        assert!(fails_with(&numerical_diff(tiny), "Use h = 1e-4"));
    }
}
