//! `cargo xtask browser-test`: the book's draw-a-digit page (`book/src/draw.md`,
//! `draw/draw.js`) in a real browser, headless Chromium driven by chromedriver.
//!
//! Not part of `cargo test --workspace`, which needs no browser; CI
//! (`.ci/run`) installs Debian's `chromium` and `chromium-driver` and runs it
//! after the book. It builds the book, opens the page from disk (`file://`,
//! as a reader does) and checks:
//! 1. the page's forward pass on raw test images gives the ten probabilities
//!    `ch6-mlp predict --json` prints for the same image and model, the
//!    book's network and one trained here with other hidden sizes;
//! 2. MNIST test digits drawn on the canvas through its own input path
//!    (pointer strokes over every inked pixel), then prepared by the page,
//!    are classified right at a rate it prints and holds to [`FLOOR`];
//! 3. a file that is not a model, a truncated one and one of the wrong
//!    shapes are refused with a message on the page, which keeps running.
//!
//! WebDriver is plain HTTP with JSON bodies (the W3C protocol), spoken here
//! with `ureq` (blocking, no TLS) to chromedriver on 127.0.0.1.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use safetensors::SafeTensors;
use serde_json::{Value, json};

use crate::outputs::DEFAULT_MODEL;
use crate::{cargo, stdout_of, workspace_root};

/// How many test images (the first ones of the test set) are drawn.
const DRAWN: u16 = 200;
/// The smallest fraction of drawn digits the page must read right: a bit
/// under the 199 of 200 measured when this was written.
const FLOOR: f64 = 0.97;
/// The test images whose probabilities are compared with `predict --json`.
const COMPARED: [usize; 4] = [0, 1, 2, 340];
/// How far the page's probabilities may be from `predict`'s.
const TOLERANCE: f64 = 1e-5;
/// A pixel this dark or darker (of 255) is inked over when a digit is drawn.
const INK: u8 = 128;
/// Canvas pixels per MNIST pixel when a test digit is drawn (280 / 28).
const CELL: i64 = 10;
/// Fingers drawing a test digit at once (each WebDriver action waits for
/// the page, so one pointer alone would take a second a digit).
const FINGERS: usize = 4;

/// `cargo xtask browser-test` flags.
#[derive(clap::Args)]
pub struct BrowserArgs {
    /// Save a screenshot of the page after drawing a digit here (PNG)
    #[arg(long, value_name = "FILE")]
    screenshot: Option<PathBuf>,
    /// Width of the browser window in CSS pixels (the page reflows below about 750)
    #[arg(long, value_name = "PX", default_value_t = 1200)]
    width: u32,
    /// How many test digits to draw (the first ones of the test set)
    #[arg(long, value_name = "N", default_value_t = DRAWN, value_parser = clap::value_parser!(u16).range(1..=10000))]
    digits: u16,
}

pub fn run(args: &BrowserArgs) -> Result<()> {
    let (started, mut phase) = (Instant::now(), Instant::now());
    let mut took = move || {
        let seconds = phase.elapsed().as_secs_f64();
        phase = Instant::now();
        format!("({seconds:.0} s)")
    };
    let root = workspace_root();
    let chromium = program("chromium", "CHROMIUM")?;
    let chromedriver = program("chromedriver", "CHROMEDRIVER")?;
    let page = crate::book::build(&root.join("book"), &root)?.join("draw.html");
    let test = mnist::Mnist::load_from(None)?.test;
    eprintln!("Book built and test set loaded {}", took());

    let scratch = tempfile::tempdir()?;
    let driver = Driver::start(&chromedriver, &chromium, scratch.path(), args.width)?;
    driver.open(&page)?;
    let shown = driver.text("#draw-model")?;
    eprintln!("The page says: {shown}");
    if !shown.contains("Running the course's network") || !shown.contains("test accuracy") {
        bail!("the page does not run the course's network: it says `{shown}`");
    }

    // 1. The forward pass, against `predict --json`.
    let own = scratch.path().join("own.safetensors");
    let own_str = own.to_str().context("a temporary path that is not UTF-8")?;
    // A learner's own model: other hidden sizes than the book's, quickly trained.
    let train = "--hidden 30,20 --epochs 1 --train-size 5000 --validation 0 -q --save";
    ch6_mlp(&[train.split(' ').collect(), vec![own_str]].concat())?;
    let model = root.join(DEFAULT_MODEL);
    let worst = compare_with_predict(&driver, &test, &model)?;
    eprintln!(
        "1. Forward pass: the page's ten probabilities on test images {COMPARED:?} are within {worst:.1e} of `ch6-mlp predict --json` (book's network; tolerance {TOLERANCE:.0e}) {}",
        took()
    );

    // 2. Test digits drawn with the pointer.
    let n = usize::from(args.digits);
    let (right, agreed) = draw_test_digits(&driver, &test, n)?;
    let rate = right as f64 / n as f64;
    eprintln!(
        "2. Drawn digits: {right} of the first {n} test digits drawn on the canvas read right ({:.1}%, floor {:.0}%); \
         {agreed} of {n} got the answer the network gives the original image {}",
        100.0 * rate,
        100.0 * FLOOR,
        took()
    );
    if let Some(path) = &args.screenshot {
        draw_digit(&driver, test.image(0))?;
        let png: String = serde_json::from_value(driver.get("screenshot")?)?;
        let png = STANDARD
            .decode(png)
            .context("the screenshot is not base64")?;
        train_cli::write_bytes(path, &png)?;
        eprintln!(
            "   Screenshot after drawing test digit 0: {}",
            path.display()
        );
    }
    if rate < FLOOR {
        bail!("only {right} of {n} drawn digits read right, under the floor of {FLOOR}");
    }

    // 3. Files that are not models the page can run, then the learner's own.
    check_bad_files(&driver, scratch.path(), &model)?;
    let picked = driver.upload(&own)?;
    if !picked.contains("Running your model own.safetensors") {
        bail!("the page did not take a good model file: it says `{picked}`");
    }
    let worst = compare_with_predict(&driver, &test, &own)?;
    let picked = picked.trim_start_matches("Running your model ");
    eprintln!(
        "   Your own model ({picked}): the page's probabilities are within {worst:.1e} of `predict --json` {}",
        took()
    );
    driver.quit();
    let seconds = started.elapsed().as_secs_f64();
    eprintln!("The draw page passed in the browser ({seconds:.0} s).");
    Ok(())
}

/// The program `name` from `$VAR` or the PATH, or an error saying how to install it.
fn program(name: &str, var: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut found = std::env::split_paths(&path).map(|dir| dir.join(name));
    let found = std::env::var_os(var)
        .map(PathBuf::from)
        .or_else(|| found.find(|p| p.is_file()));
    found.ok_or_else(|| {
        anyhow!(
            "no `{name}` on the PATH (or in ${var}): the browser test needs Chromium and chromedriver; \
             on Debian: apt-get install -y chromium chromium-driver"
        )
    })
}

/// `cargo run -q --locked -p ch6-mlp -- ARGS`; its stdout.
fn ch6_mlp(args: &[&str]) -> Result<String> {
    let mut cmd = cargo();
    cmd.args(["run", "-q", "--locked", "-p", "ch6-mlp", "--"])
        .args(args);
    stdout_of(&mut cmd).with_context(|| format!("`ch6-mlp {}`", args.join(" ")))
}

/// Compares the page's probabilities with `predict --json` on [`COMPARED`]
/// for the model the page runs, saved at `model`; the largest difference.
fn compare_with_predict(driver: &Driver, test: &mnist::Dataset, model: &Path) -> Result<f64> {
    let mut worst: f64 = 0.0;
    let model = model.to_str().context("a model path that is not UTF-8")?;
    for index in COMPARED {
        let i = index.to_string();
        let predicted = ch6_mlp(&["predict", "--index", &i, "--model", model, "--json"])?;
        let predicted: Value = serde_json::from_str(&predicted)?;
        let expected: Vec<f64> = serde_json::from_value(predicted["probabilities"].clone())?;
        let page = driver.classify(test.image(index))?;
        if page.len() != 10 || expected.len() != 10 {
            let (p, e) = (page.len(), expected.len());
            bail!("test image {index}: {p} probabilities on the page, {e} from predict");
        }
        for (digit, (p, q)) in page.iter().zip(&expected).enumerate() {
            let d = (p - q).abs();
            if d > TOLERANCE {
                bail!(
                    "test image {index}, digit {digit}: the page gives {p}, predict {q} (difference {d:.1e})"
                );
            }
            worst = worst.max(d);
        }
    }
    Ok(worst)
}

/// Draws the first `n` test digits and reads the page's answer for each:
/// how many are right, and how many agree with the network on the original.
fn draw_test_digits(driver: &Driver, test: &mnist::Dataset, n: usize) -> Result<(usize, usize)> {
    let (mut right, mut agreed) = (0, 0);
    for i in 0..n {
        let guess = draw_digit(driver, test.image(i))?;
        let original = driver.classify(test.image(i))?;
        let best = (0..10)
            .max_by(|&a, &b| original[a].total_cmp(&original[b]))
            .unwrap_or(0);
        let label = test.labels()[i] as usize;
        right += usize::from(guess == label);
        agreed += usize::from(guess == best);
        if guess != label || guess != best {
            eprintln!(
                "   test digit {i}: label {label}, drawn and read as {guess}, the original read as {best}"
            );
        }
    }
    Ok((right, agreed))
}

/// The strokes that cover every inked pixel of `image` (28×28) on the
/// canvas, `(x_from, x_to, y)` in canvas pixels: one per run of inked pixels
/// in each pair of rows, along the line between the two rows, which the
/// page's brush (20 pixels wide, two rows) covers.
fn strokes(image: &[u8]) -> Vec<(i64, i64, i64)> {
    let centre = |x: usize| CELL * x as i64 + CELL / 2;
    let mut found = Vec::new();
    for (pair, rows) in image.chunks(2 * 28).enumerate() {
        let inked = |x: usize| rows.chunks(28).any(|row| row[x] >= INK);
        let y = 2 * CELL * (pair as i64 + 1) - CELL;
        let mut x = 0;
        while x < 28 {
            let start = x;
            while x < 28 && inked(x) {
                x += 1;
            }
            if x > start {
                found.push((centre(start), centre(x - 1), y));
            }
            x += 1;
        }
    }
    found
}

/// Clears the canvas, draws `image` with [`strokes`] as [`FINGERS`] fingers
/// touching the canvas at once (one WebDriver touch source each, the strokes
/// shared out between them), and returns the digit the page then shows.
fn draw_digit(driver: &Driver, image: &[u8]) -> Result<usize> {
    driver.click("#draw-clear")?;
    let canvas = driver.find("#draw-canvas")?;
    // Offsets from the canvas' centre (280 CSS pixels wide, as draw.css sets it).
    let at = |x: i64, y: i64| json!({"type": "pointerMove", "duration": 0, "x": x - 140, "y": y - 140, "origin": {ELEMENT: canvas}});
    let press = |kind: &str| json!({"type": kind, "button": 0});
    let mut fingers = vec![Vec::new(); FINGERS];
    for (i, (from, to, y)) in strokes(image).into_iter().enumerate() {
        let stroke = [
            at(from, y),
            press("pointerDown"),
            at(to, y),
            press("pointerUp"),
        ];
        fingers[i % FINGERS].extend(stroke);
    }
    let fingers = fingers
        .into_iter()
        .enumerate()
        .filter(|(_, actions)| !actions.is_empty());
    let sources: Vec<Value> = fingers
        .map(|(i, actions)| json!({"type": "pointer", "id": format!("finger{i}"), "parameters": {"pointerType": "touch"}, "actions": actions}))
        .collect();
    driver.post("actions", json!({ "actions": sources }))?;
    let guess = "return document.getElementById('draw-guess').dataset.digit;";
    let digit = driver.script(guess, json!([]))?;
    let parsed = digit.as_str().and_then(|d| d.parse().ok());
    parsed.ok_or_else(|| anyhow!("after drawing, the page shows no digit ({digit})"))
}

/// Picks files that are not models the page can run and checks each is
/// refused on the page, which goes on with its model.
fn check_bad_files(driver: &Driver, dir: &Path, model: &Path) -> Result<()> {
    let good = std::fs::read(model)?;
    let cases = [
        (
            "notes.txt",
            b"my notes, not a model".to_vec(),
            "notes.txt is not a model this page can run",
        ),
        (
            "truncated.safetensors",
            good[..good.len() / 2].to_vec(),
            "corrupted or truncated",
        ),
        (
            "reshaped.safetensors",
            with_sizes(&good, "784,100,201,10")?,
            "dense1.weight has shape [100,200], expected [100,201]",
        ),
    ];
    let blank = vec![0u8; 784];
    let before = driver.classify(&blank)?;
    for (name, bytes, expected) in cases {
        let file = dir.join(name);
        std::fs::write(&file, bytes)?;
        driver.upload(&file)?;
        let error = driver.wait_for_text("#draw-error", expected)?;
        if driver.classify(&blank)? != before {
            bail!(
                "after refusing {}, the page runs another model",
                file.display()
            );
        }
        eprintln!("3. Refused, and the page goes on: {error}");
    }
    Ok(())
}

/// The safetensors file `bytes` with `sizes` in its metadata instead, its
/// tensors unchanged (so they no longer match).
fn with_sizes(bytes: &[u8], sizes: &str) -> Result<Vec<u8>> {
    let model = SafeTensors::deserialize(bytes)?;
    let (_, header) = SafeTensors::read_metadata(bytes)?;
    let mut metadata = header.metadata().clone().unwrap_or_default();
    metadata.insert("sizes".into(), sizes.into());
    Ok(safetensors::serialize(model.tensors(), Some(metadata))?)
}

/// Calls `check` every 50 ms until it gives `Ok`, for at most `seconds`;
/// then fails with the last thing it said was not yet right.
fn poll<T>(seconds: u64, mut check: impl FnMut() -> Result<Result<T, String>>) -> Result<T> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        match check()? {
            Ok(found) => return Ok(found),
            Err(why) if Instant::now() > deadline => bail!("{why} (waited {seconds} s)"),
            Err(_) => sleep(Duration::from_millis(50)),
        }
    }
}

/// The W3C name of an element reference in JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A chromedriver process and one browser session.
struct Driver {
    child: Child,
    agent: ureq::Agent,
    /// `http://127.0.0.1:<port>`.
    base: String,
    session: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    /// Starts chromedriver on a free port and a headless Chromium session.
    fn start(chromedriver: &Path, chromium: &Path, scratch: &Path, width: u32) -> Result<Driver> {
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let log = std::fs::File::create(scratch.join("chromedriver.log"))?;
        let mut cmd = Command::new(chromedriver);
        cmd.arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        let child = cmd
            .spawn()
            .with_context(|| format!("cannot start {}", chromedriver.display()))?;
        let config = ureq::Agent::config_builder().http_status_as_error(false);
        let agent = config
            .timeout_global(Some(Duration::from_secs(120)))
            .build()
            .into();
        let base = format!("http://127.0.0.1:{port}");
        let mut driver = Driver {
            child,
            agent,
            base,
            session: String::new(),
        };
        let status = format!("{}/status", driver.base);
        poll(20, || {
            let up = driver.agent.get(&status).call().is_ok();
            Ok(up
                .then_some(())
                .ok_or(format!("chromedriver did not answer on port {port}")))
        })?;
        let profile = format!("--user-data-dir={}", scratch.join("profile").display());
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--no-first-run", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", format!("--window-size={width},2000"), profile],
            }
        }}});
        let reply = driver.send("/session", Some(capabilities))?;
        let session = reply["sessionId"].as_str().map(String::from);
        driver.session = session.ok_or_else(|| anyhow!("chromedriver gave no session: {reply}"))?;
        Ok(driver)
    }

    /// One WebDriver request, a POST with `body` or else a GET: the `value`
    /// of chromedriver's answer, or its error.
    fn send(&self, path: &str, body: Option<Value>) -> Result<Value> {
        let url = format!("{}{path}", self.base);
        let reply = match body {
            Some(body) => self.agent.post(&url).send_json(body),
            None => self.agent.get(&url).call(),
        };
        let mut reply = reply.with_context(|| format!("no answer from chromedriver to {path}"))?;
        let json: Value = reply
            .body_mut()
            .with_config()
            .limit(u64::MAX)
            .read_json()
            .with_context(|| format!("chromedriver's answer to {path} is not JSON"))?;
        if !reply.status().is_success() {
            let value = &json["value"];
            bail!("{path}: {} ({})", value["error"], value["message"]);
        }
        Ok(json["value"].clone())
    }

    fn post(&self, command: &str, body: Value) -> Result<Value> {
        self.send(&format!("/session/{}/{command}", self.session), Some(body))
    }

    fn get(&self, command: &str) -> Result<Value> {
        self.send(&format!("/session/{}/{command}", self.session), None)
    }

    /// Opens the page and waits until its script has started.
    fn open(&self, page: &Path) -> Result<()> {
        let url = format!("file://{}", page.canonicalize()?.display());
        self.post("url", json!({"url": url}))?;
        poll(10, || {
            let started = self.script("return !!window.drawDigit;", json!([]))? == json!(true);
            Ok(started
                .then_some(())
                .ok_or(format!("{url}: the page's script did not start")))
        })
    }

    /// The page's ten probabilities for `image` (784 bytes, as in MNIST).
    fn classify(&self, image: &[u8]) -> Result<Vec<f64>> {
        let script = "return window.drawDigit.classify(arguments[0]);";
        let found = self.script(script, json!([image]))?;
        serde_json::from_value(found.clone())
            .with_context(|| format!("expected a list of numbers, got {found}"))
    }

    fn script(&self, script: &str, args: Value) -> Result<Value> {
        self.post("execute/sync", json!({"script": script, "args": args}))
    }

    /// The id of the element `css` selects.
    fn find(&self, css: &str) -> Result<String> {
        let found = self.post("element", json!({"using": "css selector", "value": css}))?;
        let id = found.get(ELEMENT).and_then(Value::as_str).map(String::from);
        id.ok_or_else(|| anyhow!("no element {css} on the page"))
    }

    fn text(&self, css: &str) -> Result<String> {
        let text = self.get(&format!("element/{}/text", self.find(css)?))?;
        Ok(text.as_str().unwrap_or_default().to_string())
    }

    fn click(&self, css: &str) -> Result<()> {
        self.post(&format!("element/{}/click", self.find(css)?), json!({}))
            .map(drop)
    }

    /// Picks `file` in the page's file input, as a reader would; then the
    /// model line once the page has read it.
    fn upload(&self, file: &Path) -> Result<String> {
        let before = self.text("#draw-model")?;
        let input = format!("element/{}/value", self.find("#draw-file")?);
        self.post(&input, json!({"text": file.display().to_string()}))?;
        poll(10, || {
            let (model, error) = (self.text("#draw-model")?, self.text("#draw-error")?);
            let reacted = model != before || !error.is_empty();
            Ok(reacted
                .then_some(model)
                .ok_or(format!("the page did not react to {}", file.display())))
        })
    }

    /// Waits until the element `css` shows text containing `expected`; its text.
    fn wait_for_text(&self, css: &str, expected: &str) -> Result<String> {
        poll(10, || {
            let text = self.text(css)?;
            let not_yet = format!("{css} shows `{text}`, not `{expected}`");
            Ok(Some(text).filter(|t| t.contains(expected)).ok_or(not_yet))
        })
    }

    fn quit(&self) {
        let _ = self
            .agent
            .delete(format!("{}/session/{}", self.base, self.session))
            .call();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_sizes_keep_the_tensors_and_a_readable_header() {
        let data = [1.5f32, -2.0].map(f32::to_le_bytes).concat();
        let w =
            safetensors::tensor::TensorView::new(safetensors::Dtype::F32, vec![2], &data).unwrap();
        let info = [
            ("sizes".to_string(), "784,10".to_string()),
            ("seed".into(), "7".into()),
        ];
        let file = safetensors::serialize([("w", w)], Some(info.into())).unwrap();
        let changed = with_sizes(&file, "784,11").unwrap();
        let (_, header) = SafeTensors::read_metadata(&changed).unwrap();
        let metadata = header.metadata().as_ref().unwrap();
        assert_eq!(
            (metadata["sizes"].as_str(), metadata["seed"].as_str()),
            ("784,11", "7")
        );
        let w = SafeTensors::deserialize(&changed)
            .unwrap()
            .tensor("w")
            .unwrap();
        assert_eq!((w.shape(), w.data()), ([2].as_slice(), data.as_slice()));
    }
}
