//! Draws the book's pictures of MNIST from the real data: the first 40
//! training images with their labels (`OUT.png`), and the first training
//! image enlarged with its 784 byte values written in its pixels
//! (`OUT-bytes.png`). Chapter 2 of the book ("MNIST and the IDX format")
//! shows them.
//!
//! ```text
//! cargo run -p mnist --example draw_digits -- book/src/img/digits.png
//! ```
//!
//! The output is PNG or SVG by the file's extension. Text is drawn in pure
//! Rust with the font train-cli ships, so no system font library is needed.

use std::error::Error;
use std::path::{Path, PathBuf};

use mnist::Mnist;
use mnist::idx::SIDE;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// The font of the course's charts (see crates/train-cli/src/plot.rs).
static FONT: &[u8] = include_bytes!("../../train-cli/assets/DejaVuSans.ttf");

/// Side of one pixel of the enlarged digit, in output pixels.
const CELL: i32 = 26;
/// Digits in the grid: `GRID_ROWS × GRID_COLS`.
const GRID_ROWS: usize = 5;
const GRID_COLS: usize = 8;
/// Side of one pixel of a grid digit.
const SMALL: i32 = 3;
/// Space between grid digits, and around each figure.
const GAP_X: i32 = 18;
const GAP_Y: i32 = 36;
const MARGIN: i32 = 20;

/// Grey of a pixel: 0 (no ink) is white, 255 (full ink) is black, as the
/// digits were written.
fn ink(value: u8) -> RGBColor {
    let g = 255 - value;
    RGBColor(g, g, g)
}

fn usage() -> String {
    "usage: cargo run -p mnist --example draw_digits -- OUT.png (or OUT.svg)\n  \
     draws the first 40 training digits with their labels into OUT.png, and the\n  \
     first digit with its 784 byte values into OUT-bytes.png"
        .to_string()
}

/// The first training image, one cell per byte, the byte written in it.
fn draw_bytes<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    mnist: &Mnist,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let train = &mnist.train;
    root.fill(&WHITE)?;
    let title = format!(
        "training image 0 (label {}): 28 × 28 bytes, 0 = paper, 255 = ink",
        train.labels()[0]
    );
    root.draw(&Text::new(
        title,
        (MARGIN, 14),
        ("sans-serif", 17).into_font(),
    ))?;
    let (x0, y0) = (MARGIN, 44);
    for (i, &value) in train.image(0).iter().enumerate() {
        let (row, col) = ((i / SIDE) as i32, (i % SIDE) as i32);
        let (x, y) = (x0 + col * CELL, y0 + row * CELL);
        let cell = [(x, y), (x + CELL, y + CELL)];
        root.draw(&Rectangle::new(cell, ink(value).filled()))?;
        root.draw(&Rectangle::new(
            cell,
            RGBColor(225, 225, 225).stroke_width(1),
        ))?;
        if value > 0 {
            let colour = if value > 110 { &WHITE } else { &BLACK };
            let style = ("sans-serif", 10)
                .into_font()
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                value.to_string(),
                (x + CELL / 2, y + CELL / 2),
                style,
            ))?;
        }
    }
    Ok(())
}

/// The first `GRID_ROWS × GRID_COLS` training images, each with its label above it.
fn draw_grid<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    mnist: &Mnist,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let train = &mnist.train;
    root.fill(&WHITE)?;
    root.draw(&Text::new(
        format!(
            "training images 0–{} with their labels",
            GRID_ROWS * GRID_COLS - 1
        ),
        (MARGIN, 14),
        ("sans-serif", 17).into_font(),
    ))?;
    let side = SMALL * SIDE as i32;
    for k in 0..GRID_ROWS * GRID_COLS {
        let gx = MARGIN + (k % GRID_COLS) as i32 * (side + GAP_X);
        let gy = 66 + (k / GRID_COLS) as i32 * (side + GAP_Y);
        let label_style = ("sans-serif", 16)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        root.draw(&Text::new(
            format!("{}", train.labels()[k]),
            (gx + side / 2, gy - 5),
            label_style,
        ))?;
        for (i, &value) in train.image(k).iter().enumerate() {
            let (row, col) = ((i / SIDE) as i32, (i % SIDE) as i32);
            let (x, y) = (gx + col * SMALL, gy + row * SMALL);
            root.draw(&Rectangle::new(
                [(x, y), (x + SMALL, y + SMALL)],
                ink(value).filled(),
            ))?;
        }
        root.draw(&Rectangle::new(
            [(gx - 1, gy - 1), (gx + side + 1, gy + side + 1)],
            RGBColor(200, 200, 200).stroke_width(1),
        ))?;
    }
    Ok(())
}

/// The two figures this example draws.
#[derive(Clone, Copy)]
enum Figure {
    Bytes,
    Grid,
}

impl Figure {
    fn size(self) -> (u32, u32) {
        match self {
            Figure::Bytes => (
                (CELL * SIDE as i32 + 2 * MARGIN) as u32,
                (CELL * SIDE as i32 + 44 + MARGIN) as u32,
            ),
            Figure::Grid => {
                let side = SMALL * SIDE as i32;
                (
                    (GRID_COLS as i32 * (side + GAP_X) - GAP_X + 2 * MARGIN) as u32,
                    (66 + GRID_ROWS as i32 * (side + GAP_Y) - GAP_Y + MARGIN) as u32,
                )
            }
        }
    }

    fn draw<DB: DrawingBackend>(
        self,
        root: &DrawingArea<DB, Shift>,
        mnist: &Mnist,
    ) -> Result<(), Box<dyn Error>>
    where
        DB::ErrorType: 'static,
    {
        match self {
            Figure::Bytes => draw_bytes(root, mnist),
            Figure::Grid => draw_grid(root, mnist),
        }
    }
}

/// Draws `figure` into `path`, PNG or SVG by its extension.
fn save(path: &Path, mnist: &Mnist, figure: Figure) -> Result<(), Box<dyn Error>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let size = figure.size();
    match path.extension().and_then(|e| e.to_str()) {
        Some("png") => {
            let root = BitMapBackend::new(path, size).into_drawing_area();
            figure.draw(&root, mnist)?;
            root.present()?;
        }
        Some("svg") => {
            let root = SVGBackend::new(path, size).into_drawing_area();
            figure.draw(&root, mnist)?;
            root.present()?;
        }
        _ => {
            return Err(format!(
                "{}: expected a .png or .svg file name\n{}",
                path.display(),
                usage()
            )
            .into());
        }
    }
    println!("wrote {} ({}×{} px)", path.display(), size.0, size.1);
    Ok(())
}

/// `OUT.png` → `OUT-bytes.png`: where the second figure goes.
fn bytes_path(out: &Path) -> PathBuf {
    let stem = out.file_stem().and_then(|s| s.to_str()).unwrap_or("digits");
    let ext = out.extension().and_then(|e| e.to_str()).unwrap_or("png");
    out.with_file_name(format!("{stem}-bytes.{ext}"))
}

fn run(out: &Path) -> Result<(), Box<dyn Error>> {
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, FONT)
            .map_err(|_| "the shipped DejaVuSans.ttf is not a valid font")?;
    }
    let mnist = Mnist::load_from(None)?;
    save(out, &mnist, Figure::Grid)?;
    save(&bytes_path(out), &mnist, Figure::Bytes)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = match args.as_slice() {
        [path] if !path.starts_with('-') => PathBuf::from(path),
        _ => {
            eprintln!("{}", usage());
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&out) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
