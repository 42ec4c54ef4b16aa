//! The two charts of `cargo xtask bench`, drawn with plotters (PNG or SVG by
//! the file's extension): time per gradient by stage as bars on a log scale,
//! and test accuracy against seconds of training for every stage's run on one
//! log-time chart. Text is rendered in pure Rust with the font train-cli
//! ships, so no system font library is needed.

use std::path::Path;
use std::sync::Once;

use anyhow::{Context, Result, anyhow};
use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::table::format_time;

static FONT: &[u8] = include_bytes!("../../../crates/train-cli/assets/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            // The font is compiled in; failing to parse it is a build defect.
            plotters::style::register_font("sans-serif", style, FONT)
                .map_err(|_| ())
                .expect("the shipped DejaVuSans.ttf is a valid font");
        }
    });
}

/// One colour per stage (stage 1 is the first), the palette of train-cli's charts.
const STAGE_COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

fn stage_colour(stage: usize) -> RGBColor {
    STAGE_COLOURS[stage.saturating_sub(1) % STAGE_COLOURS.len()]
}

/// Tick label of a log time axis (value in seconds): only at 1, 2 and 5
/// times a power of ten, so labels do not crowd; short: "500 ms", "2 s".
fn log_tick(seconds: f64) -> String {
    if !(seconds > 0.0 && seconds.is_finite()) {
        return String::new();
    }
    let power = 10f64.powf(seconds.log10().floor());
    let mantissa = seconds / power;
    if ![1.0, 2.0, 5.0, 10.0]
        .iter()
        .any(|m| (mantissa - m).abs() < 0.01 * m)
    {
        return String::new();
    }
    let (value, unit) = if seconds >= 0.9995 {
        (seconds, "s")
    } else if seconds >= 0.9995e-3 {
        (seconds * 1e3, "ms")
    } else if seconds >= 0.9995e-6 {
        (seconds * 1e6, "µs")
    } else {
        (seconds * 1e9, "ns")
    };
    // Round away the float noise of 10^k (0.30000000000000004 and the like).
    format!("{} {unit}", (value * 1000.0).round() / 1000.0)
}

/// One bar of the gradient chart.
#[derive(Clone, Debug)]
pub struct Bar {
    pub stage: usize,
    /// Short label under the bar, e.g. "1 naive".
    pub label: String,
    /// Median time, in nanoseconds.
    pub median: f64,
}

/// One stage's training run for the accuracy chart.
#[derive(Clone, Debug)]
pub struct Curve {
    pub stage: usize,
    pub name: String,
    /// (seconds of training, test accuracy in %) at each evaluation.
    pub points: Vec<(f64, f64)>,
}

/// A figure that can be drawn on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `figure` into `path`, PNG or SVG by its extension.
fn save(path: &Path, size: (u32, u32), figure: &impl Figure) -> Result<()> {
    register_font();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let ext = path.extension().and_then(|e| e.to_str());
    match ext {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            figure.draw(&root)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            figure.draw(&root)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e}", path.display()))
        }
        _ => Err(anyhow!(
            "{}: expected a .png or .svg file name",
            path.display()
        )),
    }
}

/// The bar chart: one bar per measured gradient, log time axis, each bar
/// labelled with its median (the intervals, narrow on this scale, are in the table).
pub fn draw_gradient_bars(path: &Path, title: &str, bars: &[Bar]) -> Result<()> {
    struct Bars<'a> {
        title: &'a str,
        bars: &'a [Bar],
    }
    impl Figure for Bars<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            root.fill(&WHITE).map_err(err)?;
            let bars = self.bars;
            let n = bars.len().max(1);
            let (lo, hi) = bars.iter().fold((f64::MAX, f64::MIN), |(lo, hi), b| {
                (lo.min(b.median), hi.max(b.median))
            });
            // Seconds on the axis; room below the shortest bar and above the tallest label.
            let (lo, hi) = if lo <= hi && lo > 0.0 {
                (lo * 1e-9 / 4.0, hi * 1e-9 * 6.0)
            } else {
                (1e-6, 1.0)
            };
            let mut chart = ChartBuilder::on(root)
                .caption(self.title, ("sans-serif", 22))
                .margin(14)
                .x_label_area_size(40)
                .y_label_area_size(80)
                .build_cartesian_2d((0..n - 1).into_segmented(), (lo..hi).log_scale())
                .map_err(err)?;
            let label = |v: &SegmentValue<usize>| match v {
                SegmentValue::CenterOf(i) => {
                    bars.get(*i).map_or(String::new(), |b| b.label.clone())
                }
                _ => String::new(),
            };
            chart
                .configure_mesh()
                .disable_x_mesh()
                .x_labels(n + 1)
                .x_label_formatter(&label)
                .x_label_style(("sans-serif", 15))
                .y_desc("time per gradient (log scale)")
                .y_label_formatter(&|s| log_tick(*s))
                .y_label_style(("sans-serif", 14))
                .draw()
                .map_err(err)?;
            // Segment i spans Exact(i)..Exact(i + 1); the last one ends at `Last`.
            let right_edge = |i: usize| {
                if i + 1 < n {
                    SegmentValue::Exact(i + 1)
                } else {
                    SegmentValue::Last
                }
            };
            for (i, b) in bars.iter().enumerate() {
                let colour = stage_colour(b.stage);
                let mut rect = Rectangle::new(
                    [
                        (SegmentValue::Exact(i), lo),
                        (right_edge(i), b.median * 1e-9),
                    ],
                    colour.mix(0.85).filled(),
                );
                rect.set_margin(0, 0, 12, 12);
                chart.draw_series(std::iter::once(rect)).map_err(err)?;
                let style = TextStyle::from(("sans-serif", 15).into_font())
                    .pos(Pos::new(HPos::Center, VPos::Bottom));
                chart
                    .draw_series(std::iter::once(Text::new(
                        format_time(b.median),
                        (SegmentValue::CenterOf(i), b.median * 1e-9 * 1.2),
                        style,
                    )))
                    .map_err(err)?;
            }
            Ok(())
        }
    }
    save(path, (960, 560), &Bars { title, bars })
}

/// The accuracy chart: test accuracy (%) against seconds of training on a log
/// axis, one line per stage, with thin lines at the `targets` (in %).
pub fn draw_accuracy(path: &Path, title: &str, curves: &[Curve], targets: &[f64]) -> Result<()> {
    struct Accuracy<'a> {
        title: &'a str,
        curves: &'a [Curve],
        targets: &'a [f64],
    }
    impl Figure for Accuracy<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            root.fill(&WHITE).map_err(err)?;
            // The legend goes below the chart, where it cannot hide a curve.
            let legend_height = 16 + 26 * self.curves.len() as u32;
            let (width, height) = root.dim_in_pixel();
            let (plot, legend) = root.split_vertically(height.saturating_sub(legend_height));
            // Log axis: only points after some training (seconds > 0) can be drawn.
            let drawable = |p: &&(f64, f64)| p.0 > 0.0 && p.0.is_finite() && p.1.is_finite();
            let (mut x0, mut x1, mut y0) = (f64::MAX, f64::MIN, 100.0f64);
            for &(x, y) in self
                .curves
                .iter()
                .flat_map(|c| c.points.iter())
                .filter(drawable)
            {
                (x0, x1, y0) = (x0.min(x), x1.max(x), y0.min(y));
            }
            if x0 > x1 {
                (x0, x1) = (0.1, 10.0);
            }
            let (x0, x1) = (x0 / 1.5, x1 * 1.5);
            let y0 = ((y0 - 5.0) / 10.0).floor().clamp(0.0, 9.0) * 10.0;
            let mut chart = ChartBuilder::on(&plot)
                .caption(self.title, ("sans-serif", 22))
                .margin(14)
                .x_label_area_size(45)
                .y_label_area_size(60)
                .build_cartesian_2d((x0..x1).log_scale(), y0..100.0)
                .map_err(err)?;
            chart
                .configure_mesh()
                .x_desc("seconds of training (log scale)")
                .y_desc("test accuracy (%)")
                .y_label_formatter(&|a| format!("{a:.0}"))
                .label_style(("sans-serif", 14))
                // Many candidate ticks; log_tick keeps only 1, 2 and 5 times 10^k.
                .x_labels(40)
                .light_line_style(BLACK.mix(0.04))
                .x_label_formatter(&|s| log_tick(*s))
                .draw()
                .map_err(err)?;
            for &t in self.targets {
                if t > y0 {
                    chart
                        .draw_series(LineSeries::new(
                            [(x0, t), (x1, t)],
                            BLACK.mix(0.4).stroke_width(1),
                        ))
                        .map_err(err)?;
                    chart
                        .draw_series(std::iter::once(Text::new(
                            format!("{t:.0}%"),
                            (x0 * 1.05, t + 0.4),
                            ("sans-serif", 14).into_font().color(&BLACK.mix(0.6)),
                        )))
                        .map_err(err)?;
                }
            }
            for (i, c) in self.curves.iter().enumerate() {
                let colour = stage_colour(c.stage);
                let pts: Vec<(f64, f64)> = c.points.iter().filter(drawable).copied().collect();
                chart
                    .draw_series(LineSeries::new(pts.iter().copied(), colour.stroke_width(2)))
                    .map_err(err)?;
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, colour.filled())))
                    .map_err(err)?;
                let y = 12 + 26 * i as i32;
                let x = (width as i32 / 10).min(80);
                legend
                    .draw(&PathElement::new(
                        vec![(x, y + 8), (x + 28, y + 8)],
                        colour.stroke_width(3),
                    ))
                    .map_err(err)?;
                legend
                    .draw(&Text::new(c.name.clone(), (x + 38, y), ("sans-serif", 16)))
                    .map_err(err)?;
            }
            Ok(())
        }
    }
    save(
        path,
        (960, 560 + 16 + 26 * curves.len() as u32),
        &Accuracy {
            title,
            curves,
            targets,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_only_at_one_two_five() {
        assert_eq!(log_tick(1.0), "1 s");
        assert_eq!(log_tick(20.0), "20 s");
        assert_eq!(log_tick(0.5), "500 ms");
        assert_eq!(log_tick(2e-4), "200 µs");
        assert_eq!(log_tick(1e-3), "1 ms");
        assert_eq!(log_tick(3.0), "");
        assert_eq!(log_tick(0.0), "");
    }

    #[test]
    fn both_charts_draw_to_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let bars = [
            Bar {
                stage: 1,
                label: "1 naive".into(),
                median: 1e9,
            },
            Bar {
                stage: 1,
                label: "1 fast".into(),
                median: 2e6,
            },
            Bar {
                stage: 3,
                label: "3 backprop".into(),
                median: 4e5,
            },
        ];
        let curves = [
            Curve {
                stage: 1,
                name: "stage 1".into(),
                points: vec![(0.5, 80.0), (5.0, 90.0)],
            },
            // A zero time cannot sit on a log axis: it must be skipped, not fail.
            Curve {
                stage: 3,
                name: "stage 3".into(),
                points: vec![(0.0, 10.0), (0.2, 95.0), (2.0, 97.5)],
            },
        ];
        for ext in ["png", "svg"] {
            let bar_path = dir.path().join(format!("bars.{ext}"));
            draw_gradient_bars(&bar_path, "one gradient", &bars).unwrap();
            let acc_path = dir.path().join(format!("acc.{ext}"));
            draw_accuracy(&acc_path, "accuracy", &curves, &[85.0, 95.0]).unwrap();
            for p in [&bar_path, &acc_path] {
                assert!(
                    std::fs::metadata(p).unwrap().len() > 2000,
                    "{} is too small",
                    p.display()
                );
            }
        }
        let svg = std::fs::read_to_string(dir.path().join("bars.svg")).unwrap();
        assert!(
            svg.contains("3 backprop") && svg.contains("1.00 s"),
            "labels missing"
        );
        // Empty input still draws (axes only) rather than failing.
        draw_gradient_bars(&dir.path().join("empty.svg"), "none", &[]).unwrap();
        draw_accuracy(&dir.path().join("empty2.svg"), "none", &[], &[85.0]).unwrap();
        let err = draw_accuracy(&dir.path().join("x.gif"), "t", &curves, &[]).unwrap_err();
        assert!(err.to_string().contains(".png or .svg"));
    }
}
