//! Charts drawn with plotters, PNG or SVG by the file's extension: the
//! training curves of `--plot`, and a general line chart and a grid of
//! small line charts the stages use for their comparisons. Text is rendered in pure Rust with a font shipped in
//! `assets/`, so no system font library is needed.

use std::path::Path;
use std::sync::Once;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::{Evaluation, Written};

static FONT: &[u8] = include_bytes!("../assets/DejaVuSans.ttf");

/// Registers the shipped font as plotters' "sans-serif" (once per process).
pub fn register_font() {
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

/// One named line of a chart.
#[derive(Clone, Debug)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl From<(String, Vec<(f64, f64)>)> for Series {
    /// A line from its name and points.
    fn from((name, points): (String, Vec<(f64, f64)>)) -> Series {
        Series { name, points }
    }
}

pub(crate) const PALETTE: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
];

/// A figure that can be drawn on any plotters backend.
pub(crate) trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `figure` on a PNG or SVG canvas of `size`, chosen by `path`'s
/// extension, written atomically ([`crate::write_atomically`]).
pub(crate) fn with_canvas(
    path: &Path,
    size: (u32, u32),
    figure: &impl Figure,
) -> anyhow::Result<Written> {
    register_font();
    let ext = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let cannot = |e: &dyn std::fmt::Display| anyhow!("cannot write {}: {e}", path.display());
    crate::write_atomically(path, |temp| match ext.as_deref() {
        Some("png") => {
            let root = BitMapBackend::new(temp, size).into_drawing_area();
            figure.draw(&root)?;
            root.present().map_err(|e| cannot(&e))
        }
        Some("svg") => {
            let root = SVGBackend::new(temp, size).into_drawing_area();
            figure.draw(&root)?;
            root.present().map_err(|e| cannot(&e))
        }
        _ => Err(anyhow!(
            "{}: expected a .png or .svg file name",
            path.display()
        )),
    })
}

/// Draws `series` as lines in one chart; `log_y` puts the y axis on a log scale.
/// Says whether it replaced a file.
pub fn draw_line_chart(
    path: &Path,
    title: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_y: bool,
) -> anyhow::Result<Written> {
    struct Chart<'a> {
        title: &'a str,
        x_desc: &'a str,
        y_desc: &'a str,
        series: &'a [Series],
        log_y: bool,
    }
    impl Figure for Chart<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
            lines_panel(
                root,
                self.title,
                self.x_desc,
                self.y_desc,
                self.series,
                self.log_y,
            )
        }
    }
    with_canvas(
        path,
        (900, 600),
        &Chart {
            title,
            x_desc,
            y_desc,
            series,
            log_y,
        },
    )
}

/// Small multiples: one small line chart per panel `(caption, series)`,
/// `columns` to a row, every panel on the same axes (the x and y ranges of
/// all the points) so that they compare at a glance; the i-th series of
/// every panel in the same colour, which `title` should name.
/// Says whether it replaced a file.
pub fn draw_line_grid(
    path: &Path,
    title: &str,
    panels: &[(String, Vec<Series>)],
    columns: usize,
) -> anyhow::Result<Written> {
    struct Grid<'a> {
        title: &'a str,
        panels: &'a [(String, Vec<Series>)],
        columns: usize,
        rows: usize,
    }
    impl Figure for Grid<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            root.fill(&WHITE).map_err(err)?;
            let root = root.titled(self.title, ("sans-serif", 22)).map_err(err)?;
            let points = || {
                let series = self.panels.iter().flat_map(|(_, series)| series);
                series
                    .flat_map(|s| s.points.iter())
                    .filter(|p| p.1.is_finite())
            };
            let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for &(x, y) in points() {
                (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
            }
            if x0 > x1 {
                (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
            }
            (x1, y1) = (x1.max(x0 + 1.0), y1.max(y0 + 1e-9));
            let areas = root.split_evenly((self.rows, self.columns));
            for ((caption, series), area) in self.panels.iter().zip(areas) {
                let mut chart = ChartBuilder::on(&area)
                    .caption(caption, ("sans-serif", 15))
                    .margin(6)
                    .x_label_area_size(22)
                    .y_label_area_size(32)
                    .build_cartesian_2d(x0..x1, y0..y1)
                    .map_err(err)?;
                chart
                    .configure_mesh()
                    .x_labels(5)
                    .y_labels(5)
                    .x_label_formatter(&tick)
                    .label_style(("sans-serif", 11))
                    .draw()
                    .map_err(err)?;
                for (i, s) in series.iter().enumerate() {
                    let points = s.points.iter().copied().filter(|p| p.1.is_finite());
                    let colour = PALETTE[i % PALETTE.len()];
                    chart
                        .draw_series(LineSeries::new(points, colour.stroke_width(2)))
                        .map_err(err)?;
                }
            }
            Ok(())
        }
    }
    let columns = columns.max(1);
    let rows = panels.len().div_ceil(columns).max(1);
    let size = (300 * columns as u32, 60 + 230 * rows as u32);
    with_canvas(
        path,
        size,
        &Grid {
            title,
            panels,
            columns,
            rows,
        },
    )
}

/// The `--plot` figure: training loss against steps on the left, accuracies
/// against steps on the right.
pub fn draw_training_curves(
    path: &Path,
    title: &str,
    losses: &[(f64, f64)],
    history: &[Evaluation],
) -> anyhow::Result<Written> {
    let mut loss = vec![Series {
        name: "loss per step".into(),
        points: losses.to_vec(),
    }];
    if !history.is_empty() {
        loss.push(Series {
            name: "mean loss between evaluations".into(),
            points: history.iter().map(|e| (e.step as f64, e.loss)).collect(),
        });
    }
    let pick = |name: &str, f: &dyn Fn(&Evaluation) -> Option<f64>| Series {
        name: name.into(),
        points: history
            .iter()
            .filter_map(|e| f(e).map(|a| (e.step as f64, 100.0 * a)))
            .collect(),
    };
    let accuracy: Vec<Series> = [
        pick("train", &|e| e.train_accuracy),
        pick("validation", &|e| e.validation_accuracy),
        pick("test", &|e| Some(e.test_accuracy)),
    ]
    .into_iter()
    .filter(|s| !s.points.is_empty())
    .collect();
    struct Curves<'a> {
        title: &'a str,
        loss: Vec<Series>,
        accuracy: Vec<Series>,
    }
    impl Figure for Curves<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            root.fill(&WHITE).map_err(|e| anyhow!("{e:?}"))?;
            let root = root
                .titled(self.title, ("sans-serif", 24))
                .map_err(|e| anyhow!("{e:?}"))?;
            let (left, right) = root.split_horizontally(600);
            lines_panel(&left, "training loss", "step", "loss", &self.loss, false)?;
            lines_panel(
                &right,
                "accuracy",
                "step",
                "accuracy (%)",
                &self.accuracy,
                false,
            )
        }
    }
    with_canvas(
        path,
        (1200, 560),
        &Curves {
            title,
            loss,
            accuracy,
        },
    )
}

/// An x tick as a person writes it: `2,000` for a whole number of steps,
/// not `2000.0`.
fn tick(x: &f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        let sign = if *x < 0.0 { "-" } else { "" };
        format!("{sign}{}", crate::thousands(x.abs() as usize))
    } else {
        format!("{}", (x * 1e4).round() / 1e4)
    }
}

fn lines_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    caption: &str,
    x_desc: &str,
    y_desc: &str,
    series: &[Series],
    log_y: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    let points = || {
        series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| p.1.is_finite())
    };
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for &(x, y) in points() {
        (x0, x1, y0, y1) = (x0.min(x), x1.max(x), y0.min(y), y1.max(y));
    }
    if x0 > x1 {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    // Do the lines end in the upper half of the chart?
    let last: Vec<f64> = series
        .iter()
        .filter_map(|s| s.points.iter().rev().find(|p| p.1.is_finite()))
        .map(|p| p.1)
        .collect();
    let ends_high =
        !last.is_empty() && last.iter().sum::<f64>() / last.len() as f64 > (y0 + y1) / 2.0;
    let mut builder = ChartBuilder::on(area);
    builder
        .caption(caption, ("sans-serif", 22))
        .margin(16)
        .margin_right(36)
        .x_label_area_size(48)
        .y_label_area_size(70);
    let colour = |i: usize| PALETTE[i % PALETTE.len()];
    if log_y {
        let lo = points()
            .map(|p| p.1)
            .filter(|&y| y > 0.0)
            .fold(f64::MAX, f64::min);
        let lo = if lo == f64::MAX { 1e-3 } else { lo * 0.8 };
        let hi = (y1 * 1.25).max(lo * 10.0);
        let mut chart = builder
            .build_cartesian_2d(x0..x1, (lo..hi).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            let pts = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1 > 0.0 && p.1.is_finite());
            chart
                .draw_series(LineSeries::new(pts, colour(i).stroke_width(2)))
                .map_err(err)?
                .label(&s.name)
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 20, y)], colour(i).stroke_width(2))
                });
        }
        legend(&mut chart, ends_high).map_err(err)
    } else {
        let pad = ((y1 - y0) * 0.05).max(1e-9);
        let mut chart = builder
            .build_cartesian_2d(x0..x1, (y0 - pad)..(y1 + pad))
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .x_label_formatter(&tick)
            .label_style(("sans-serif", 15))
            .axis_desc_style(("sans-serif", 16))
            .draw()
            .map_err(err)?;
        for (i, s) in series.iter().enumerate() {
            // The first series of the loss panel is the noisy per-step loss: draw it faintly.
            let style = if series.len() > 1 && i == 0 && s.points.len() > 200 {
                colour(i).mix(0.35).stroke_width(1)
            } else {
                colour(i).stroke_width(2)
            };
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .copied()
                .filter(|p| p.1.is_finite())
                .collect();
            // Lines that may overlap are told apart by their dashes as well as their colour.
            let dashed = i % 2 == 1 && series.len() > 2;
            let drawn = if dashed {
                chart.draw_series(DashedLineSeries::new(pts, 10, 5, style))
            } else {
                chart.draw_series(LineSeries::new(pts, style))
            };
            drawn.map_err(err)?.label(&s.name).legend(move |(x, y)| {
                let end = if dashed { x + 8 } else { x + 20 };
                PathElement::new(vec![(x, y), (end, y)], colour(i).stroke_width(2))
            });
        }
        legend(&mut chart, ends_high).map_err(err)
    }
}

/// The legend, in the upper right corner, or the lower right when the lines
/// end high (rising accuracies) and would run under it.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    ends_high: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let position = if ends_high {
        SeriesLabelPosition::LowerRight
    } else {
        SeriesLabelPosition::UpperRight
    };
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 15))
        .position(position)
        .draw()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_are_ticked_without_decimals() {
        assert_eq!(tick(&2000.0), "2,000");
        assert_eq!(tick(&0.0), "0");
        assert_eq!(tick(&-5.0), "-5");
        assert_eq!(tick(&0.25), "0.25");
    }

    #[test]
    fn draws_png_and_svg_and_refuses_other_extensions() {
        let dir = tempfile::tempdir().unwrap();
        let history = vec![Evaluation {
            step: 10,
            seconds: 0.1,
            loss: 1.0,
            train_accuracy: Some(0.5),
            validation_accuracy: None,
            test_accuracy: 0.6,
        }];
        let losses: Vec<(f64, f64)> = (1..=10).map(|s| (s as f64, 2.0 / s as f64)).collect();
        for name in ["c.png", "c.svg"] {
            let path = dir.path().join(name);
            draw_training_curves(&path, "t", &losses, &history).unwrap();
            assert!(
                std::fs::metadata(&path).unwrap().len() > 1000,
                "{name} is too small"
            );
        }
        let svg = std::fs::read_to_string(dir.path().join("c.svg")).unwrap();
        assert!(svg.contains("accuracy"));
        let err =
            draw_training_curves(&dir.path().join("c.gif"), "t", &losses, &history).unwrap_err();
        assert!(err.to_string().contains(".png or .svg"));
        let line = Series {
            name: "a".into(),
            points: vec![(1.0, 1.0), (2.0, 0.1)],
        };
        draw_line_chart(
            &dir.path().join("l.png"),
            "t",
            "x",
            "y",
            std::slice::from_ref(&line),
            true,
        )
        .unwrap();
        let panels = vec![
            ("one".to_string(), vec![line.clone()]),
            (
                "two".to_string(),
                vec![
                    line,
                    Series {
                        name: "empty".into(),
                        points: Vec::new(),
                    },
                ],
            ),
            ("three".to_string(), Vec::new()),
        ];
        let grid = dir.path().join("g.svg");
        draw_line_grid(&grid, "grid", &panels, 2).unwrap();
        let svg = std::fs::read_to_string(&grid).unwrap();
        assert!(svg.contains("three") && svg.contains("grid"));
    }
}
