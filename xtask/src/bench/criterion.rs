//! Reading criterion's results from disk, for `cargo xtask bench`.
//!
//! For every benchmark it runs, criterion writes a folder
//! `<group>/<function>/new/` under its output directory with two files we
//! read: `benchmark.json` (which benchmark: group, function id, throughput)
//! and `estimates.json` (how long one iteration took: mean, median, ... each
//! with a confidence interval, in nanoseconds). We read these files rather
//! than criterion's printed text, which is meant for people.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

/// A point estimate with its confidence interval, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub lower: f64,
    pub upper: f64,
    /// Confidence level of `[lower, upper]`, e.g. 0.95.
    pub confidence: f64,
}

/// One benchmark's result.
#[derive(Clone, Debug, PartialEq)]
pub struct Measurement {
    /// Criterion group, e.g. `gradient`.
    pub group: String,
    /// Function id within the group, e.g. `ch4-numerical/naive`.
    pub function: String,
    /// Median time of one iteration.
    pub median: Estimate,
    /// Elements one iteration processes, when the bench declared `Throughput::Elements`.
    pub elements: Option<u64>,
}

// The parts of criterion's files we use; serde ignores the other fields.
#[derive(Deserialize)]
struct RawInterval {
    confidence_level: f64,
    lower_bound: f64,
    upper_bound: f64,
}

#[derive(Deserialize)]
struct RawEstimate {
    confidence_interval: RawInterval,
    point_estimate: f64,
}

#[derive(Deserialize)]
struct RawEstimates {
    median: RawEstimate,
}

#[derive(Deserialize)]
struct RawBenchmark {
    group_id: String,
    function_id: Option<String>,
    value_str: Option<String>,
    throughput: Option<serde_json::Value>,
}

/// The median and its confidence interval from the text of an `estimates.json`.
pub fn parse_estimates(text: &str) -> Result<Estimate> {
    let raw: RawEstimates = serde_json::from_str(text)
        .context("expected criterion's estimates.json, with a \"median\" estimate")?;
    let m = raw.median;
    let e = Estimate {
        point: m.point_estimate,
        lower: m.confidence_interval.lower_bound,
        upper: m.confidence_interval.upper_bound,
        confidence: m.confidence_interval.confidence_level,
    };
    let finite = [e.point, e.lower, e.upper, e.confidence]
        .iter()
        .all(|v| v.is_finite());
    // A little slack: criterion's bootstrap can put a bound a rounding error past the point.
    let slack = 1e-9 * e.point.abs();
    if !finite || e.point <= 0.0 || e.lower > e.point + slack || e.upper < e.point - slack {
        bail!(
            "the median in estimates.json is not a positive time inside its interval: \
             {} ns in [{}, {}]",
            e.point,
            e.lower,
            e.upper
        );
    }
    Ok(e)
}

/// Group, function id and elements per iteration from the text of a `benchmark.json`.
///
/// A benchmark with a parameter (`BenchmarkId::new("f", 100)`) gets the
/// function id `f/100`, the way criterion names it.
pub fn parse_benchmark(text: &str) -> Result<(String, String, Option<u64>)> {
    let raw: RawBenchmark = serde_json::from_str(text)
        .context("expected criterion's benchmark.json, with a \"group_id\"")?;
    let function = [raw.function_id, raw.value_str]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join("/");
    // Serialised as {"Elements": 60000}; bytes and bits mean nothing here.
    let elements = raw
        .throughput
        .as_ref()
        .and_then(|t| t.get("Elements"))
        .and_then(|n| n.as_u64());
    Ok((raw.group_id, function, elements))
}

/// Every measurement under criterion's output directory `dir` (nothing if it
/// does not exist), sorted by group and function.
pub fn read_measurements(dir: &Path) -> Result<Vec<Measurement>> {
    let mut found = Vec::new();
    if dir.is_dir() {
        find_new_dirs(dir, &mut found)?;
    }
    let mut out = Vec::new();
    for new in found {
        let read = |name: &str| {
            let path = new.join(name);
            std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))
        };
        let (group, function, elements) = parse_benchmark(&read("benchmark.json")?)
            .with_context(|| format!("in {}", new.join("benchmark.json").display()))?;
        let median = parse_estimates(&read("estimates.json")?)
            .with_context(|| format!("in {}", new.join("estimates.json").display()))?;
        out.push(Measurement {
            group,
            function,
            median,
            elements,
        });
    }
    out.sort_by(|a, b| (&a.group, &a.function).cmp(&(&b.group, &b.function)));
    Ok(out)
}

/// Collects folders named `new` that hold a `benchmark.json` (criterion's
/// latest result; `base/` and `change/` hold older runs and comparisons).
fn find_new_dirs(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))?;
    for entry in entries {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") && path.join("benchmark.json").is_file() {
            found.push(path);
        } else {
            find_new_dirs(&path, found)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An estimates.json as criterion 0.8 writes it (numbers shortened).
    const ESTIMATES: &str = r#"{
      "mean":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1010000.0,"upper_bound":1090000.0},"point_estimate":1050000.0,"standard_error":20000.0},
      "median":{"confidence_interval":{"confidence_level":0.95,"lower_bound":990000.0,"upper_bound":1030000.0},"point_estimate":1000000.0,"standard_error":10000.0},
      "median_abs_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":100.0,"upper_bound":300.0},"point_estimate":200.0,"standard_error":50.0},
      "slope":null,
      "std_dev":{"confidence_interval":{"confidence_level":0.95,"lower_bound":1000.0,"upper_bound":3000.0},"point_estimate":2000.0,"standard_error":500.0}
    }"#;

    const BENCHMARK: &str = r#"{"group_id":"gradient","function_id":"ch4-numerical/naive","value_str":null,
      "throughput":null,"full_id":"gradient/ch4-numerical/naive","directory_name":"gradient/ch4-numerical_naive",
      "title":"gradient/ch4-numerical/naive"}"#;

    #[test]
    fn reads_the_median_and_its_interval() {
        let e = parse_estimates(ESTIMATES).unwrap();
        assert_eq!(
            e,
            Estimate {
                point: 1e6,
                lower: 9.9e5,
                upper: 1.03e6,
                confidence: 0.95
            }
        );
    }

    #[test]
    fn refuses_estimates_without_a_sensible_median() {
        let err = parse_estimates(r#"{"mean": {}}"#).unwrap_err();
        assert!(format!("{err:#}").contains("median"), "{err:#}");
        let outside = ESTIMATES.replace(
            "\"point_estimate\":1000000.0",
            "\"point_estimate\":2000000.0",
        );
        let err = parse_estimates(&outside).unwrap_err();
        assert!(err.to_string().contains("inside its interval"), "{err}");
        assert!(parse_estimates("not json").is_err());
    }

    #[test]
    fn reads_group_function_and_throughput() {
        assert_eq!(
            parse_benchmark(BENCHMARK).unwrap(),
            ("gradient".into(), "ch4-numerical/naive".into(), None)
        );
        let with_value = r#"{"group_id":"epoch","function_id":"per-sample","value_str":"60000",
            "throughput":{"Elements":60000}}"#;
        assert_eq!(
            parse_benchmark(with_value).unwrap(),
            ("epoch".into(), "per-sample/60000".into(), Some(60000))
        );
        let bytes =
            r#"{"group_id":"g","function_id":"f","value_str":null,"throughput":{"Bytes":10}}"#;
        assert_eq!(parse_benchmark(bytes).unwrap().2, None);
    }

    #[test]
    fn finds_every_new_result_and_ignores_base() {
        let dir = tempfile::tempdir().unwrap();
        let write = |sub: &str, function: &str, median: f64| {
            let d = dir.path().join(sub);
            std::fs::create_dir_all(&d).unwrap();
            let bench = BENCHMARK.replace("ch4-numerical/naive", function);
            std::fs::write(d.join("benchmark.json"), bench).unwrap();
            let est = ESTIMATES
                .replace("990000.0", &format!("{}", median * 0.99))
                .replace("1000000.0", &format!("{median}"))
                .replace("1030000.0", &format!("{}", median * 1.03));
            std::fs::write(d.join("estimates.json"), est).unwrap();
        };
        write(
            "gradient/ch4-numerical_naive/new",
            "ch4-numerical/naive",
            1e9,
        );
        write(
            "gradient/ch4-numerical_naive/base",
            "ch4-numerical/naive",
            5e9,
        );
        write("gradient/ch4-numerical_fast/new", "ch4-numerical/fast", 1e6);
        std::fs::create_dir_all(dir.path().join("gradient/report")).unwrap();

        let found = read_measurements(dir.path()).unwrap();
        let names: Vec<(&str, f64)> = found
            .iter()
            .map(|m| (m.function.as_str(), m.median.point))
            .collect();
        assert_eq!(
            names,
            [("ch4-numerical/fast", 1e6), ("ch4-numerical/naive", 1e9)]
        );
        assert!(
            read_measurements(&dir.path().join("absent"))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn a_broken_file_is_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("gradient/x/new");
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("benchmark.json"), BENCHMARK).unwrap();
        std::fs::write(d.join("estimates.json"), "{").unwrap();
        let err = format!("{:#}", read_measurements(dir.path()).unwrap_err());
        assert!(err.contains("estimates.json"), "{err}");
    }
}
