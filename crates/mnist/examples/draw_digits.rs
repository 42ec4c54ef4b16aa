//! Draws the book's picture of MNIST from the real data: the first training
//! image enlarged with its 784 byte values written in its pixels, beside the
//! first 40 training images with their labels. Chapter 2 of the book
//! ("MNIST and the IDX format") shows it.
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

/// Grey of a pixel: 0 (no ink) is white, 255 (full ink) is black, as the
/// digits were written.
fn ink(value: u8) -> RGBColor {
    let g = 255 - value;
    RGBColor(g, g, g)
}

fn usage() -> String {
    "usage: cargo run -p mnist --example draw_digits -- OUT.png (or OUT.svg)\n  \
     draws the first training digit with its byte values and the first 40 digits with labels"
        .to_string()
}

fn draw<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    mnist: &Mnist,
) -> Result<(), Box<dyn Error>>
where
    DB::ErrorType: 'static,
{
    let train = &mnist.train;
    root.fill(&WHITE)?;
    let big = CELL * SIDE as i32;
    let (left, right) = root.split_horizontally(big + 40);

    // Left: image 0, one cell per byte, the byte written in it.
    let first = train.image(0);
    let title = format!(
        "training image 0 (label {}): 28 × 28 bytes, 0 = paper, 255 = ink",
        train.labels()[0]
    );
    left.draw(&Text::new(title, (20, 14), ("sans-serif", 17).into_font()))?;
    let (x0, y0) = (20, 44);
    for (i, &value) in first.iter().enumerate() {
        let (row, col) = ((i / SIDE) as i32, (i % SIDE) as i32);
        let (x, y) = (x0 + col * CELL, y0 + row * CELL);
        left.draw(&Rectangle::new(
            [(x, y), (x + CELL, y + CELL)],
            ink(value).filled(),
        ))?;
        left.draw(&Rectangle::new(
            [(x, y), (x + CELL, y + CELL)],
            RGBColor(225, 225, 225).stroke_width(1),
        ))?;
        if value > 0 {
            let colour = if value > 110 { &WHITE } else { &BLACK };
            let style = ("sans-serif", 10)
                .into_font()
                .color(colour)
                .pos(Pos::new(HPos::Center, VPos::Center));
            left.draw(&Text::new(
                value.to_string(),
                (x + CELL / 2, y + CELL / 2),
                style,
            ))?;
        }
    }

    // Right: the first 40 images, each with its label above it.
    right.draw(&Text::new(
        format!(
            "training images 0–{} with their labels",
            GRID_ROWS * GRID_COLS - 1
        ),
        (10, 14),
        ("sans-serif", 17).into_font(),
    ))?;
    let side = SMALL * SIDE as i32;
    let (gap_x, gap_y) = (side + 18, side + 40);
    for k in 0..GRID_ROWS * GRID_COLS {
        let (gx, gy) = (
            10 + (k % GRID_COLS) as i32 * gap_x,
            70 + (k / GRID_COLS) as i32 * gap_y,
        );
        let label_style = ("sans-serif", 15)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Bottom));
        right.draw(&Text::new(
            format!("{}", train.labels()[k]),
            (gx + side / 2, gy - 4),
            label_style,
        ))?;
        for (i, &value) in train.image(k).iter().enumerate() {
            let (row, col) = ((i / SIDE) as i32, (i % SIDE) as i32);
            let (x, y) = (gx + col * SMALL, gy + row * SMALL);
            right.draw(&Rectangle::new(
                [(x, y), (x + SMALL, y + SMALL)],
                ink(value).filled(),
            ))?;
        }
        right.draw(&Rectangle::new(
            [(gx - 1, gy - 1), (gx + side + 1, gy + side + 1)],
            RGBColor(200, 200, 200).stroke_width(1),
        ))?;
    }
    Ok(())
}

fn run(out: &Path) -> Result<(), Box<dyn Error>> {
    for style in [FontStyle::Normal, FontStyle::Bold] {
        plotters::style::register_font("sans-serif", style, FONT)
            .map_err(|_| "the shipped DejaVuSans.ttf is not a valid font")?;
    }
    let mnist = Mnist::load_from(None)?;
    if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    let grid_width = GRID_COLS as i32 * (SMALL * SIDE as i32 + 18) + 20;
    let size = (
        (CELL * SIDE as i32 + 40 + grid_width) as u32,
        (CELL * SIDE as i32 + 64) as u32,
    );
    match out.extension().and_then(|e| e.to_str()) {
        Some("png") => {
            let root = BitMapBackend::new(out, size).into_drawing_area();
            draw(&root, &mnist)?;
            root.present()?;
        }
        Some("svg") => {
            let root = SVGBackend::new(out, size).into_drawing_area();
            draw(&root, &mnist)?;
            root.present()?;
        }
        _ => {
            return Err(format!(
                "{}: expected a .png or .svg file name\n{}",
                out.display(),
                usage()
            )
            .into());
        }
    }
    println!("wrote {} ({}×{} px)", out.display(), size.0, size.1);
    Ok(())
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
