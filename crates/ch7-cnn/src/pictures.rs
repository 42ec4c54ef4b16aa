//! # Pictures of what the network learned
//!
//! Stage 6 of the course (chapter 7, "visualising a CNN"): the 30 filters
//! of the convolution before and after training (the book's figure 7-24),
//! and the 30 feature maps one test digit makes. Each small image is drawn
//! in grey levels scaled to its own range, black its smallest number and
//! white its largest, as PNG or SVG by the file's extension.

use std::path::Path;

use anyhow::{Context, anyhow};
use nalgebra::DMatrix;
use plotters::coord::Shift;
use plotters::prelude::*;

/// A titled group of small images, drawn side by side in rows of `columns`.
pub struct Panel {
    pub title: String,
    pub images: Vec<DMatrix<f32>>,
    pub columns: usize,
}

/// Pixels per image pixel: filters are 5×5, maps 24×24.
fn scale(image: &DMatrix<f32>) -> u32 {
    (96 / image.nrows().max(1) as u32).clamp(3, 16)
}

/// Draws `panels` one below the other under `title` into `path` (.png or .svg).
pub fn draw_panels(path: &Path, title: &str, panels: &[Panel]) -> anyhow::Result<()> {
    train_cli::register_font();
    let (gap, header, top) = (6u32, 30u32, 40u32);
    let size_of = |p: &Panel| {
        let first = p
            .images
            .first()
            .map_or((1, 1), |m| (m.nrows() as u32, m.ncols() as u32));
        let s = p.images.first().map_or(1, scale);
        let (cell_w, cell_h) = (first.1 * s + gap, first.0 * s + gap);
        let rows = p.images.len().div_ceil(p.columns.max(1)) as u32;
        (
            cell_w * p.columns as u32 + gap,
            header + rows * cell_h + gap,
        )
    };
    let width = panels
        .iter()
        .map(|p| size_of(p).0)
        .max()
        .unwrap_or(100)
        .max(400);
    let height = top + panels.iter().map(|p| size_of(p).1).sum::<u32>();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    match path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("png") => {
            let root = BitMapBackend::new(path, (width, height)).into_drawing_area();
            draw_on(&root, title, panels, gap, header, top)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e:?}", path.display()))
        }
        Some("svg") => {
            let root = SVGBackend::new(path, (width, height)).into_drawing_area();
            draw_on(&root, title, panels, gap, header, top)?;
            root.present()
                .map_err(|e| anyhow!("cannot write {}: {e:?}", path.display()))
        }
        _ => Err(anyhow!(
            "{}: expected a .png or .svg file name",
            path.display()
        )),
    }
}

fn draw_on<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    title: &str,
    panels: &[Panel],
    gap: u32,
    header: u32,
    top: u32,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("{e:?}");
    root.fill(&WHITE).map_err(err)?;
    root.draw(&Text::new(title.to_string(), (10, 10), ("sans-serif", 20)))
        .map_err(err)?;
    let mut y = top as i32;
    for panel in panels {
        root.draw(&Text::new(
            panel.title.clone(),
            (10, y + 6),
            ("sans-serif", 16),
        ))
        .map_err(err)?;
        let mut bottom = y + header as i32;
        for (k, image) in panel.images.iter().enumerate() {
            let s = scale(image) as i32;
            let (h, w) = (image.nrows() as i32, image.ncols() as i32);
            let (row, column) = ((k / panel.columns) as i32, (k % panel.columns) as i32);
            let x0 = gap as i32 + column * (w * s + gap as i32);
            let y0 = y + header as i32 + row * (h * s + gap as i32);
            let (lo, hi) = (image.min(), image.max());
            let range = if hi > lo { hi - lo } else { 1.0 };
            for i in 0..h {
                for j in 0..w {
                    let v = ((image[(i as usize, j as usize)] - lo) / range * 255.0).round() as u8;
                    let (px, py) = (x0 + j * s, y0 + i * s);
                    root.draw(&Rectangle::new(
                        [(px, py), (px + s, py + s)],
                        RGBColor(v, v, v).filled(),
                    ))
                    .map_err(err)?;
                }
            }
            bottom = bottom.max(y0 + h * s + gap as i32);
        }
        y = bottom + gap as i32;
    }
    Ok(())
}

/// The filters `W: (C·FH·FW) × FN` (first channel) as `FH × FW` images.
pub fn filter_images(w: &DMatrix<f32>, fh: usize, fw: usize) -> Vec<DMatrix<f32>> {
    (0..w.ncols())
        .map(|f| DMatrix::from_fn(fh, fw, |i, j| w[(i * fw + j, f)]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_png_and_svg_panels_and_refuses_other_names() {
        let dir = tempfile::tempdir().unwrap();
        let w = DMatrix::from_fn(25, 30, |r, c| (r * c) as f32);
        let panels = [Panel {
            title: "filters".into(),
            images: filter_images(&w, 5, 5),
            columns: 10,
        }];
        assert_eq!(panels[0].images[3][(1, 2)], (7 * 3) as f32);
        for name in ["f.png", "f.svg"] {
            let path = dir.path().join(name);
            draw_panels(&path, "title", &panels).unwrap();
            assert!(std::fs::metadata(&path).unwrap().len() > 1000, "{name}");
        }
        assert!(draw_panels(&dir.path().join("f.gif"), "t", &panels).is_err());
    }
}
