//! The markdown tables `cargo xtask bench` prints: the gradient ladder (one
//! gradient of each stage on the same batch of 100 images, each row against
//! the one before), the training epochs, and the training runs behind the
//! time-to-accuracy columns. Only formatting lives here; the numbers come in
//! from criterion's files and the programs' `--json` summaries.

use super::criterion::Estimate;
use super::history::{RunSummary, best_accuracy, time_to_accuracy};

/// One row of the ladder: a measured piece of work, or why it has no time.
#[derive(Clone, Debug)]
pub struct Line {
    pub stage: usize,
    /// The crate, e.g. `ch4-numerical`.
    pub krate: String,
    /// The network in words, e.g. `softmax 784→10`; empty when unknown.
    pub network: String,
    pub parameters: Option<usize>,
    /// What was timed: the gradient method, or the kind of epoch.
    pub work: String,
    /// The median time, or the reason there is none (e.g. "not built yet").
    pub time: Result<Estimate, String>,
    /// Images one iteration processes, when the bench said so.
    pub elements: Option<u64>,
    /// Seconds to each target accuracy of the stage's training run, on the
    /// row of the gradient method that run used; empty on other rows.
    pub reached: Vec<Reached>,
}

/// A training run against one target accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reached {
    /// Seconds of training at the first evaluation at or above the target.
    At(f64),
    /// Never reached; the best test accuracy of the run.
    Not(f64),
}

impl Reached {
    /// How `summary`'s run did against `target` (a fraction).
    pub fn of(summary: &RunSummary, target: f64) -> Reached {
        match time_to_accuracy(&summary.history, target) {
            Some(s) => Reached::At(s),
            None => Reached::Not(best_accuracy(&summary.history).unwrap_or(0.0)),
        }
    }

    fn cell(self) -> String {
        match self {
            Reached::At(s) => format_time(s * 1e9),
            Reached::Not(best) => format!("not reached (best {:.1}%)", 100.0 * best),
        }
    }
}

/// The gradient ladder: stage, network, parameters, gradient method, time
/// per gradient with criterion's interval, speed-up over the previous
/// measured row, and time to each of `targets` (fractions).
pub fn gradient_table(lines: &[Line], targets: &[f64]) -> String {
    let mut headers = vec![
        "stage".to_string(),
        "network".into(),
        "parameters".into(),
        "gradient".into(),
        "time per gradient: median [95% interval]".into(),
        "speed-up over previous row".into(),
    ];
    headers.extend(
        targets
            .iter()
            .map(|t| format!("time to {:.0}% test accuracy", 100.0 * t)),
    );
    let speedups = speedups(&times(lines));
    let rows = lines
        .iter()
        .zip(speedups)
        .map(|(line, speedup)| {
            let mut row = vec![
                stage_cell(line),
                or_dash(&line.network),
                line.parameters.map_or("—".into(), thousands),
                or_dash(&line.work),
                time_cell(&line.time),
                speedup.map_or("—".into(), format_speedup),
            ];
            row.extend(
                (0..targets.len()).map(|i| line.reached.get(i).map_or("—".into(), |r| r.cell())),
            );
            row
        })
        .collect::<Vec<_>>();
    markdown(&headers, &rows)
}

/// The epochs: stage, what was trained, network, time per epoch with its
/// interval, images per second, and the speed-up in images per second over
/// the previous measured row (epochs differ in size: 50,000 or 60,000 images).
pub fn epoch_table(lines: &[Line]) -> String {
    let headers = [
        "stage",
        "training",
        "network",
        "time per epoch: median [95% interval]",
        "images per second",
        "speed-up over previous row (images per second)",
    ]
    .map(String::from);
    let rates: Vec<Option<f64>> = lines
        .iter()
        .map(|line| match (&line.time, line.elements) {
            (Ok(t), Some(n)) => Some(n as f64 / (t.point * 1e-9)),
            _ => None,
        })
        .collect();
    // Seconds per image play the part of the time.
    let per_image: Vec<Option<f64>> = rates.iter().map(|r| r.map(|r| 1.0 / r)).collect();
    let rows = lines
        .iter()
        .zip(rates)
        .zip(speedups(&per_image))
        .map(|((line, rate), speedup)| {
            vec![
                stage_cell(line),
                or_dash(&line.work),
                or_dash(&line.network),
                time_cell(&line.time),
                rate.map_or("—".into(), |r| thousands(r.round() as usize)),
                speedup.map_or("—".into(), format_speedup),
            ]
        })
        .collect::<Vec<_>>();
    markdown(&headers, &rows)
}

/// One stage program's training run, for [`runs_table`].
#[derive(Clone, Debug)]
pub struct Run {
    pub stage: usize,
    /// The command as a learner would type it.
    pub command: String,
    pub summary: RunSummary,
}

/// The training runs: what ran, on which network, how long, how well, and
/// when it first reached each of `targets`.
pub fn runs_table(runs: &[Run], targets: &[f64]) -> String {
    let mut headers = vec![
        "stage".to_string(),
        "command".into(),
        "network".into(),
        "parameters".into(),
        "steps × batch".into(),
        "training time".into(),
        "final (best) test accuracy".into(),
    ];
    headers.extend(targets.iter().map(|t| format!("time to {:.0}%", 100.0 * t)));
    let rows = runs
        .iter()
        .map(|run| {
            let s = &run.summary;
            let best = best_accuracy(&s.history).unwrap_or(s.test_accuracy);
            let mut row = vec![
                run.stage.to_string(),
                format!("`{}`", run.command),
                s.network.clone(),
                thousands(s.parameters),
                format!("{} × {}", thousands(s.steps_done), s.batch_size),
                format_time(s.seconds_training * 1e9),
                format!("{:.2}% ({:.2}%)", 100.0 * s.test_accuracy, 100.0 * best),
            ];
            row.extend(targets.iter().map(|&t| Reached::of(s, t).cell()));
            row
        })
        .collect::<Vec<_>>();
    markdown(&headers, &rows)
}

fn times(lines: &[Line]) -> Vec<Option<f64>> {
    lines
        .iter()
        .map(|l| l.time.as_ref().ok().map(|e| e.point))
        .collect()
}

fn stage_cell(line: &Line) -> String {
    format!("{} `{}`", line.stage, line.krate)
}

fn time_cell(time: &Result<Estimate, String>) -> String {
    match time {
        Ok(e) => format_estimate(e),
        Err(why) => why.clone(),
    }
}

fn or_dash(s: &str) -> String {
    if s.is_empty() { "—".into() } else { s.into() }
}

/// For each row, how many times faster it is than the previous row that has
/// a time (`previous / this`); `None` for the first measured row and rows
/// without a time.
pub fn speedups(times: &[Option<f64>]) -> Vec<Option<f64>> {
    let mut previous = None;
    times
        .iter()
        .map(|&t| {
            let t = t?;
            let s = previous.map(|p: f64| p / t);
            previous = Some(t);
            s
        })
        .collect()
}

/// `45` → "45× faster", `0.5` → "2.0× slower".
pub fn format_speedup(s: f64) -> String {
    if s >= 1.0 {
        format!("{}× faster", ratio(s))
    } else {
        format!("{}× slower", ratio(1.0 / s))
    }
}

/// A ratio with the digits that mean something: 1.3, 45, 3,400.
fn ratio(r: f64) -> String {
    if r < 10.0 {
        format!("{r:.1}")
    } else {
        thousands(r.round() as usize)
    }
}

/// A duration given in nanoseconds, in the unit that suits it, three
/// significant digits: "850 ns", "12.3 µs", "456 ms", "1.02 s".
pub fn format_time(ns: f64) -> String {
    let (scale, unit) = unit_of(ns);
    let v = ns / scale;
    format!("{} {unit}", digits(v, decimals(v)))
}

/// The median and its interval in the median's unit: "1.02 s [0.99–1.05]".
pub fn format_estimate(e: &Estimate) -> String {
    let (scale, unit) = unit_of(e.point);
    let d = decimals(e.point / scale);
    format!(
        "{} {unit} [{}–{}]",
        digits(e.point / scale, d),
        digits(e.lower / scale, d),
        digits(e.upper / scale, d)
    )
}

fn unit_of(ns: f64) -> (f64, &'static str) {
    // Round first, so 999.7 µs shows as "1.00 ms", not "1000 µs".
    let rounded = |scale: f64| ns / scale >= 999.5;
    if rounded(1e6) {
        (1e9, "s")
    } else if rounded(1e3) {
        (1e6, "ms")
    } else if rounded(1.0) {
        (1e3, "µs")
    } else {
        (1.0, "ns")
    }
}

fn decimals(v: f64) -> usize {
    if v >= 99.95 {
        0
    } else if v >= 9.995 {
        1
    } else {
        2
    }
}

fn digits(v: f64, decimals: usize) -> String {
    if decimals == 0 && v >= 1000.0 {
        thousands(v.round() as usize)
    } else {
        format!("{v:.decimals$}")
    }
}

/// `12345` → `12,345`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A markdown table, its columns padded so it also reads well as plain text.
pub fn markdown(headers: &[String], rows: &[Vec<String>]) -> String {
    let width = |cell: &String| cell.chars().count();
    let mut widths: Vec<usize> = headers.iter().map(width).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(width(cell));
        }
    }
    let line = |cells: &[String]| {
        let padded: Vec<String> = widths
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let cell = cells.get(i).map_or("", String::as_str);
                format!("{cell}{}", " ".repeat(w - cell.chars().count()))
            })
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    let mut out = line(headers);
    out += &format!("|-{}-|\n", rule.join("-|-"));
    for row in rows {
        out += &line(row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::history::Evaluation;
    use super::*;

    fn est(point: f64) -> Estimate {
        Estimate {
            point,
            lower: point * 0.98,
            upper: point * 1.03,
            confidence: 0.95,
        }
    }

    fn line(stage: usize, work: &str, time: Result<f64, &str>) -> Line {
        Line {
            stage,
            krate: format!("stage{stage}"),
            network: "784-50-10 sigmoid".into(),
            parameters: Some(39_760),
            work: work.into(),
            time: time.map(est).map_err(String::from),
            elements: None,
            reached: Vec::new(),
        }
    }

    #[test]
    fn speed_up_is_over_the_previous_measured_row() {
        let s = speedups(&[Some(1e9), Some(1e7), None, Some(1e4), Some(2e4)]);
        assert_eq!(s, [None, Some(100.0), None, Some(1000.0), Some(0.5)]);
        assert_eq!(speedups(&[None, Some(5.0)]), [None, None]);
        assert_eq!(format_speedup(100.0), "100× faster");
        assert_eq!(format_speedup(1234.4), "1,234× faster");
        assert_eq!(format_speedup(2.54), "2.5× faster");
        assert_eq!(format_speedup(0.5), "2.0× slower");
        assert_eq!(format_speedup(0.02), "50× slower");
    }

    #[test]
    fn times_get_a_fitting_unit_and_three_digits() {
        assert_eq!(format_time(850.0), "850 ns");
        assert_eq!(format_time(12_345.0), "12.3 µs");
        assert_eq!(format_time(999_700.0), "1.00 ms");
        assert_eq!(format_time(456e6), "456 ms");
        assert_eq!(format_time(1.0234e9), "1.02 s");
        assert_eq!(format_time(4321e9), "4,321 s");
        let e = Estimate {
            point: 1.02e9,
            lower: 0.991e9,
            upper: 1.054e9,
            confidence: 0.95,
        };
        assert_eq!(format_estimate(&e), "1.02 s [0.99–1.05]");
    }

    #[test]
    fn markdown_pads_columns_by_characters() {
        let t = markdown(
            &["a".into(), "network".into()],
            &[
                vec!["1".into(), "784→10".into()],
                vec!["µs".into(), "x".into()],
            ],
        );
        assert_eq!(
            t,
            "| a  | network |\n\
             |----|---------|\n\
             | 1  | 784→10  |\n\
             | µs | x       |\n"
        );
    }

    #[test]
    fn gradient_table_has_every_row_speed_ups_and_time_to_accuracy() {
        let mut fast = line(2, "numerical, fast", Ok(2e8));
        fast.reached = vec![Reached::At(12.5), Reached::Not(0.912)];
        let lines = [
            line(2, "numerical, naive", Ok(2e10)),
            fast,
            line(3, "", Err("not built yet")),
            line(4, "backprop", Ok(2e5)),
        ];
        let t = gradient_table(&lines, &[0.85, 0.95]);
        let rows: Vec<&str> = t.lines().collect();
        assert_eq!(rows.len(), 2 + 4, "{t}");
        assert!(rows[0].contains("time to 85% test accuracy") && rows[0].contains("time to 95%"));
        assert!(rows[2].contains("20.0 s [19.6–20.6]"), "{}", rows[2]);
        assert!(
            rows[3].contains("100× faster") && rows[3].contains("12.5 s"),
            "{}",
            rows[3]
        );
        assert!(rows[3].contains("not reached (best 91.2%)"), "{}", rows[3]);
        assert!(
            rows[4].contains("not built yet") && rows[4].contains("3 `stage3`"),
            "{}",
            rows[4]
        );
        // Stage 4 is compared with the last row that has a time: stage 2 fast.
        assert!(
            rows[5].contains("1,000× faster") && rows[5].contains("39,760"),
            "{}",
            rows[5]
        );
        for row in &rows {
            assert_eq!(row.matches('|').count(), 9, "{row}");
        }
    }

    #[test]
    fn epoch_table_shows_images_per_second() {
        let mut per_sample = line(3, "per-sample SGD", Ok(6e9));
        per_sample.elements = Some(60_000);
        let mut mini_batch = line(4, "mini-batch SGD", Ok(3e8));
        mini_batch.elements = Some(50_000);
        let t = epoch_table(&[per_sample, line(4, "no images given", Ok(1e8)), mini_batch]);
        assert!(t.contains("| 10,000 "), "{t}");
        assert!(t.contains("| 166,667 "), "{t}");
        // 166,667 / 10,000 images per second, skipping the row without a rate.
        assert!(t.contains("17× faster"), "{t}");
        assert_eq!(t.matches("faster").count(), 1, "{t}");
    }

    #[test]
    fn runs_table_reads_the_history() {
        let summary = RunSummary {
            stage: "ch4-numerical".into(),
            network: "softmax 784→10".into(),
            parameters: 7850,
            steps_done: 2000,
            batch_size: 100,
            seconds_training: 30.0,
            test_accuracy: 0.9,
            history: vec![
                Evaluation {
                    step: 100,
                    seconds: 1.5,
                    test_accuracy: 0.86,
                },
                Evaluation {
                    step: 200,
                    seconds: 3.0,
                    test_accuracy: 0.91,
                },
                Evaluation {
                    step: 300,
                    seconds: 4.5,
                    test_accuracy: 0.90,
                },
            ],
        };
        let run = Run {
            stage: 1,
            command: "cargo run --release -p ch4-numerical".into(),
            summary,
        };
        let t = runs_table(&[run], &[0.85, 0.95]);
        let row = t.lines().nth(2).unwrap();
        assert!(
            row.contains("2,000 × 100") && row.contains("30.0 s"),
            "{row}"
        );
        assert!(
            row.contains("90.00% (91.00%)") && row.contains("1.50 s"),
            "{row}"
        );
        assert!(row.contains("not reached (best 91.0%)"), "{row}");
    }
}
