//! Pictures of what a network learned, drawn with plotters like the charts
//! of [`crate::draw_line_chart`] (PNG or SVG by the file's extension,
//! written atomically): grids of small images ([`draw_tiles`]: weights as
//! templates, digits with captions), rows of histograms
//! ([`draw_histograms`]), and points moving on a plane over contour lines
//! and arrows ([`draw_planes`]).
//!
//! Like the rest of this crate it knows nothing about any network: a stage
//! computes the numbers and hands them over; these functions only draw.

use std::path::Path;

use anyhow::anyhow;
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::Written;
use crate::plot::{Figure, PALETTE, with_canvas};

/// The width every picture is drawn at: the book's column.
const WIDTH: u32 = 760;

/// One small image of a grid, `pixels` row by row, `width` to a row, with a
/// caption under it (may be empty).
#[derive(Clone, Debug)]
pub struct Tile {
    pub pixels: Vec<f64>,
    pub width: usize,
    pub caption: String,
}

/// How a tile's numbers become colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colours {
    /// Ink on paper, for digits: 0 white, 1 (or more) black.
    Ink,
    /// Diverging, for weights: 0 white, positive red, negative blue, each
    /// tile scaled to its own largest `|w|` (so its pattern shows, whatever
    /// its size).
    EachOwnScale,
    /// Diverging as above, one scale for every tile: the largest `|w|` of all.
    SharedScale,
}

/// The diverging colour of `v` on the symmetric scale `-m..m`: white at 0,
/// red towards `+m`, blue towards `-m`.
pub fn diverging(v: f64, m: f64) -> RGBColor {
    let t = if m > 0.0 {
        (v / m).clamp(-1.0, 1.0)
    } else {
        0.0
    };
    let (end, t) = if t >= 0.0 {
        ((178.0, 24.0, 43.0), t)
    } else {
        ((33.0, 102.0, 172.0), -t)
    };
    let mix = |e: f64| (255.0 + (e - 255.0) * t).round() as u8;
    RGBColor(mix(end.0), mix(end.1), mix(end.2))
}

/// The largest `|v|` of `pixels` (0 for none).
fn largest(pixels: &[f64]) -> f64 {
    pixels.iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// A white page with `title` at its top and a line of `note` under it.
fn heading<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    note: &str,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    root.fill(&WHITE)?;
    root.draw(&Text::new(title, (12, 10), ("sans-serif", 22)))?;
    root.draw(&Text::new(note, (12, 42), ("sans-serif", 16)))
}

/// Draws `tiles` in rows of `columns` under `title` and a line of `note`
/// (what the colours mean), each tile as large as the book's column allows.
/// Says whether it replaced a file.
pub fn draw_tiles(
    path: &Path,
    title: &str,
    note: &str,
    tiles: &[Tile],
    columns: usize,
    colours: Colours,
) -> anyhow::Result<Written> {
    struct Grid<'a> {
        title: &'a str,
        note: &'a str,
        tiles: &'a [Tile],
        columns: usize,
        colours: Colours,
        scale: i32,
        gap: i32,
        caption_height: i32,
    }
    const MARGIN: i32 = 12;
    const TOP: i32 = 72;
    impl Figure for Grid<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            heading(root, self.title, self.note).map_err(err)?;
            let shared = self
                .tiles
                .iter()
                .map(|t| largest(&t.pixels))
                .fold(0.0, f64::max);
            for (k, tile) in self.tiles.iter().enumerate() {
                let (w, s) = (tile.width.max(1) as i32, self.scale);
                let h = tile.pixels.len().div_ceil(tile.width.max(1)) as i32;
                let (row, column) = ((k / self.columns) as i32, (k % self.columns) as i32);
                let x0 = MARGIN + column * (w * s + self.gap);
                let y0 = TOP + row * (h * s + self.gap + self.caption_height);
                let own = largest(&tile.pixels);
                for (i, &v) in tile.pixels.iter().enumerate() {
                    let colour = match self.colours {
                        Colours::Ink => {
                            let g = (255.0 * (1.0 - v.clamp(0.0, 1.0))).round() as u8;
                            RGBColor(g, g, g)
                        }
                        Colours::EachOwnScale => diverging(v, own),
                        Colours::SharedScale => diverging(v, shared),
                    };
                    let (px, py) = (x0 + (i as i32 % w) * s, y0 + (i as i32 / w) * s);
                    root.draw(&Rectangle::new(
                        [(px, py), (px + s, py + s)],
                        colour.filled(),
                    ))
                    .map_err(err)?;
                }
                root.draw(&Rectangle::new(
                    [(x0 - 1, y0 - 1), (x0 + w * s, y0 + h * s)],
                    RGBColor(160, 160, 160),
                ))
                .map_err(err)?;
                if !tile.caption.is_empty() {
                    root.draw(&Text::new(
                        tile.caption.clone(),
                        (x0, y0 + h * s + 4),
                        ("sans-serif", 16),
                    ))
                    .map_err(err)?;
                }
            }
            Ok(())
        }
    }
    let columns = columns.max(1);
    let (w, h) = tiles.first().map_or((28, 28), |t| {
        (t.width.max(1), t.pixels.len().div_ceil(t.width.max(1)))
    });
    // Captioned tiles need room for their text; bare ones sit closer.
    let captioned = tiles.iter().any(|t| !t.caption.is_empty());
    let gap = if captioned { 12 } else { 6 };
    let scale =
        ((WIDTH as i32 - 2 * MARGIN - gap * (columns as i32 - 1)) / (columns * w) as i32).max(1);
    let caption_height = if captioned { 24 } else { 0 };
    let rows = tiles.len().div_ceil(columns) as i32;
    let width = (2 * MARGIN + columns as i32 * (w as i32 * scale + gap) - gap).max(400);
    let height = TOP + rows * (h as i32 * scale + gap + caption_height) + gap;
    let figure = Grid {
        title,
        note,
        tiles,
        columns,
        colours,
        scale,
        gap,
        caption_height,
    };
    with_canvas(path, (width as u32, height as u32), &figure)
}

/// Counts of values in equal bins from `lo` to `hi`, drawn as bars.
#[derive(Clone, Debug)]
pub struct Histogram {
    /// Above the bars: `layer 1`.
    pub title: String,
    pub counts: Vec<usize>,
    pub lo: f64,
    pub hi: f64,
    /// What 100% is: the number of values counted into the bins or left out.
    pub total: usize,
}

/// Draws a grid of histograms under `title` and `note`: one row per
/// `(name, histograms)` pair, its name on the left. Bars are the percentage
/// of `total` in each bin; each row has its own y scale.
pub fn draw_histograms(
    path: &Path,
    title: &str,
    note: &str,
    rows: &[(String, Vec<Histogram>)],
) -> anyhow::Result<Written> {
    struct Grid<'a> {
        title: &'a str,
        note: &'a str,
        rows: &'a [(String, Vec<Histogram>)],
    }
    const TOP: u32 = 70;
    const ROW: u32 = 170;
    impl Figure for Grid<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            heading(root, self.title, self.note).map_err(err)?;
            let (_, body) = root.split_vertically(TOP);
            let areas = body.split_evenly((self.rows.len().max(1), 1));
            for (r, ((name, histograms), area)) in self.rows.iter().zip(&areas).enumerate() {
                let (label, panels) = area.split_horizontally(110);
                for (l, line) in name.split(", ").enumerate() {
                    label
                        .draw(&Text::new(
                            line.to_string(),
                            (4, 50 + 22 * l as i32),
                            ("sans-serif", 16),
                        ))
                        .map_err(err)?;
                }
                let percent = |h: &Histogram, c: usize| 100.0 * c as f64 / h.total.max(1) as f64;
                let top = histograms
                    .iter()
                    .flat_map(|h| h.counts.iter().map(move |&c| percent(h, c)))
                    .fold(1.0, f64::max)
                    * 1.08;
                let cells = panels.split_evenly((1, histograms.len().max(1)));
                for (i, (h, cell)) in histograms.iter().zip(&cells).enumerate() {
                    let mut chart = ChartBuilder::on(cell)
                        .caption(
                            if r == 0 { h.title.as_str() } else { "" },
                            ("sans-serif", 16),
                        )
                        .margin(4)
                        .margin_right(16)
                        .x_label_area_size(26)
                        .y_label_area_size(if i == 0 { 34 } else { 6 })
                        .build_cartesian_2d(h.lo..h.hi, 0.0..top)
                        .map_err(err)?;
                    chart
                        .configure_mesh()
                        .disable_mesh()
                        .x_labels(3)
                        .y_labels(if i == 0 { 3 } else { 0 })
                        .x_label_formatter(&|x| format!("{x}"))
                        .y_label_formatter(&|y| format!("{y:.0}"))
                        .label_style(("sans-serif", 15))
                        .draw()
                        .map_err(err)?;
                    let width = (h.hi - h.lo) / h.counts.len().max(1) as f64;
                    let colour = PALETTE[r % PALETTE.len()];
                    chart
                        .draw_series(h.counts.iter().enumerate().map(|(b, &c)| {
                            let x = h.lo + b as f64 * width;
                            Rectangle::new([(x, 0.0), (x + width, percent(h, c))], colour.filled())
                        }))
                        .map_err(err)?;
                }
            }
            Ok(())
        }
    }
    let height = TOP + ROW * rows.len() as u32 + 10;
    with_canvas(path, (WIDTH, height), &Grid { title, note, rows })
}

/// A point's path on a plane: `points` joined by a line, each marked.
#[derive(Clone, Debug)]
pub struct Track {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// One panel of [`draw_planes`]: contour lines (closed or open polylines)
/// drawn grey, arrows `(from, to)`, and paths, over `x` × `y`.
#[derive(Clone, Debug)]
pub struct Plane {
    pub title: String,
    pub x: (f64, f64),
    pub y: (f64, f64),
    pub contours: Vec<Vec<(f64, f64)>>,
    pub arrows: Vec<((f64, f64), (f64, f64))>,
    pub paths: Vec<Track>,
}

/// Draws `planes` in rows of `columns` under `title`, each with x and y
/// axes to the same scale when the panel's shape allows. Each path is drawn
/// in its own colour with its own marker, named in the panel's legend.
pub fn draw_planes(
    path: &Path,
    title: &str,
    planes: &[Plane],
    columns: usize,
    panel_height: u32,
) -> anyhow::Result<Written> {
    struct Grid<'a> {
        title: &'a str,
        planes: &'a [Plane],
        columns: usize,
    }
    impl Figure for Grid<'_> {
        fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> anyhow::Result<()>
        where
            DB::ErrorType: 'static,
        {
            let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
            root.fill(&WHITE).map_err(err)?;
            let root = root.titled(self.title, ("sans-serif", 22)).map_err(err)?;
            let rows = self.planes.len().div_ceil(self.columns);
            let cells = root.split_evenly((rows.max(1), self.columns));
            for (k, (plane, cell)) in self.planes.iter().zip(&cells).enumerate() {
                plane_panel(cell, plane, k).map_err(err)?;
            }
            Ok(())
        }
    }
    let columns = columns.max(1);
    let rows = planes.len().div_ceil(columns) as u32;
    let height = 40 + rows * panel_height;
    with_canvas(
        path,
        (WIDTH, height),
        &Grid {
            title,
            planes,
            columns,
        },
    )
}

fn plane_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    plane: &Plane,
    index: usize,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let mut chart = ChartBuilder::on(area)
        .caption(&plane.title, ("sans-serif", 18))
        .margin(8)
        .margin_right(16)
        .x_label_area_size(30)
        .y_label_area_size(36)
        .build_cartesian_2d(plane.x.0..plane.x.1, plane.y.0..plane.y.1)?;
    chart
        .configure_mesh()
        .light_line_style(WHITE)
        .bold_line_style(RGBColor(235, 235, 235))
        .x_label_formatter(&|x| format!("{x}"))
        .y_label_formatter(&|y| format!("{y}"))
        .label_style(("sans-serif", 15))
        .draw()?;
    let grey = RGBColor(170, 170, 170);
    for line in &plane.contours {
        chart.draw_series(LineSeries::new(line.iter().copied(), grey.stroke_width(1)))?;
    }
    // Arrow heads in pixels, so they look the same whatever the axes' ranges.
    let arrow = RGBColor(90, 90, 90);
    for &(from, to) in &plane.arrows {
        chart.draw_series(LineSeries::new([from, to], arrow.stroke_width(1)))?;
        let base = chart.plotting_area().get_base_pixel();
        let local = |c: (i32, i32)| (c.0 - base.0, c.1 - base.1);
        let (p, q) = (
            local(chart.backend_coord(&from)),
            local(chart.backend_coord(&to)),
        );
        let (dx, dy) = ((q.0 - p.0) as f64, (q.1 - p.1) as f64);
        let length = dx.hypot(dy);
        if length >= 2.0 {
            let (ux, uy) = (dx / length, dy / length);
            let head = 5.0_f64.min(length / 2.0);
            let corner = |side: f64| {
                (
                    q.0 - (head * ux - side * head * 0.6 * uy).round() as i32,
                    q.1 - (head * uy + side * head * 0.6 * ux).round() as i32,
                )
            };
            chart
                .plotting_area()
                .strip_coord_spec()
                .draw(&Polygon::new(
                    vec![q, corner(1.0), corner(-1.0)],
                    arrow.filled(),
                ))?;
        }
    }
    for (i, p) in plane.paths.iter().enumerate() {
        let colour = PALETTE[(index + i) % PALETTE.len()];
        let style = colour.stroke_width(2);
        chart
            .draw_series(LineSeries::new(p.points.iter().copied(), style))?
            .label(&p.name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
        if i % 2 == 0 {
            chart.draw_series(p.points.iter().map(|&q| Circle::new(q, 3, colour.filled())))?;
        } else {
            chart.draw_series(
                p.points
                    .iter()
                    .map(|&q| TriangleMarker::new(q, 4, colour.filled())),
            )?;
        }
    }
    if plane.paths.len() > 1 {
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font(("sans-serif", 15))
            .position(SeriesLabelPosition::UpperRight)
            .draw()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::checks::png_size;

    #[test]
    fn zero_is_white_and_the_ends_are_red_and_blue() {
        assert_eq!(diverging(0.0, 2.0), RGBColor(255, 255, 255));
        assert_eq!(diverging(2.0, 2.0), RGBColor(178, 24, 43));
        assert_eq!(diverging(-5.0, 2.0), RGBColor(33, 102, 172));
        assert_eq!(diverging(1.0, 0.0), RGBColor(255, 255, 255));
        let half = diverging(1.0, 2.0);
        assert!(half.0 > 200 && half.1 < 150, "{half:?}");
    }

    #[test]
    fn tiles_histograms_and_planes_are_drawn_at_the_book_width() {
        let dir = tempfile::tempdir().unwrap();
        let tile = Tile {
            pixels: (0..784).map(|i| (i as f64 - 392.0) / 392.0).collect(),
            width: 28,
            caption: "0".into(),
        };
        let png = dir.path().join("t.png");
        draw_tiles(&png, "t", "n", &vec![tile; 10], 5, Colours::EachOwnScale).unwrap();
        let (w, h) = png_size(&png);
        // Five tiles of 28 pixels, each pixel 4 × 4, in two rows with captions.
        assert_eq!(w, 12 + 5 * (112 + 12));
        assert_eq!(h, 72 + 2 * (112 + 12 + 24) + 12);

        let histogram = Histogram {
            title: "layer 1".into(),
            counts: vec![1, 5, 2],
            lo: 0.0,
            hi: 1.0,
            total: 8,
        };
        let rows = vec![("sigmoid, std 0.01".to_string(), vec![histogram; 5])];
        draw_histograms(&png, "h", "n", &rows).unwrap();
        assert_eq!(png_size(&png), (WIDTH, 70 + 170 + 10));

        let plane = Plane {
            title: "p".into(),
            x: (-1.0, 1.0),
            y: (-1.0, 1.0),
            contours: vec![vec![(0.5, 0.0), (0.0, 0.5), (-0.5, 0.0)]],
            arrows: vec![((0.5, 0.5), (0.25, 0.25))],
            paths: vec![Track {
                name: "a".into(),
                points: vec![(-1.0, 1.0), (0.0, 0.0)],
            }],
        };
        draw_planes(&png, "p", &[plane.clone(), plane], 2, 300).unwrap();
        assert_eq!(png_size(&png), (WIDTH, 340));
        let svg = dir.path().join("p.svg");
        draw_planes(&svg, "p", &[], 2, 300).unwrap();
        assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    }
}
