//! The data of the book's draw-a-digit page (`book/src/draw.md`, whose code is
//! `book/src/draw/draw.js`): the default stage 4 network, as a script.
//!
//! A page opened from disk (`file://`) may not `fetch()` a file beside it,
//! but it may load a `<script src>`; so `cargo xtask book` writes the network
//! the book ships ([`outputs::DEFAULT_MODEL`], the bytes the `ch6-mlp` run
//! saved) into the built book as `draw/model.js`, base64, with the command
//! that made it, its seed and its test accuracy as that run printed it. The
//! page decodes the bytes and reads them as it reads a file the reader picks.

use std::path::Path;

use anyhow::{Context, Result, anyhow};

use crate::outputs::{self, RUNS};

/// What the page says about the network, taken from the run that made it.
#[derive(Debug, PartialEq)]
pub struct Provenance {
    /// The command as typed, `cargo run -p ch6-mlp -- --save …`.
    pub command: String,
    pub seed: u64,
    /// `"--seed"` when the command gives it, else `"the default"`.
    pub seed_source: &'static str,
    /// `98.14% on the 10,000 test images`, as the run printed it.
    pub test_accuracy: String,
}

/// The provenance of the `run` whose transcript is `transcript`.
pub fn provenance(run: &outputs::Run, transcript: &str) -> Result<Provenance> {
    let command = transcript
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("$ "))
        .ok_or_else(|| {
            anyhow!(
                "the transcript of {} does not start with `$ command`",
                run.name
            )
        })?;
    let given = run.args.windows(2).find(|w| w[0] == "--seed");
    let (seed, seed_source) = match given {
        Some(w) => (w[1].parse().context("--seed in RUNS")?, "--seed"),
        None => (train_cli::DEFAULT_SEED, "the default"),
    };
    let test_accuracy = transcript
        .lines()
        .find_map(|l| l.strip_prefix("Test accuracy: "))
        .ok_or_else(|| {
            anyhow!(
                "the transcript of {} has no `Test accuracy:` line",
                run.name
            )
        })?;
    Ok(Provenance {
        command: command.to_string(),
        seed,
        seed_source,
        test_accuracy: test_accuracy.to_string(),
    })
}

/// Writes `out/draw/model.js` (out: the built book) from the shipped model
/// and its run's transcript under `root`.
pub fn write_model_script(root: &Path, out: &Path) -> Result<()> {
    let shipped = outputs::SHIPPED
        .iter()
        .find(|s| s.copy == outputs::DEFAULT_MODEL)
        .expect("the default model is shipped");
    let run = RUNS
        .iter()
        .find(|r| r.name == shipped.run)
        .expect("SHIPPED names a run");
    let model = std::fs::read(root.join(shipped.copy)).with_context(|| {
        format!(
            "cannot read {}, the draw page's network (made by `cargo xtask book --refresh --only {}`)",
            shipped.copy, run.name
        )
    })?;
    let transcript_path = root.join(format!("book/src/generated/run-{}.txt", run.name));
    let transcript = std::fs::read_to_string(&transcript_path)
        .with_context(|| format!("cannot read {}", transcript_path.display()))?;
    let p = provenance(run, &transcript)?;
    let data = serde_json::json!({
        "base64": base64_encode(&model),
        "command": p.command,
        "seed": p.seed,
        "seedSource": p.seed_source,
        "testAccuracy": p.test_accuracy,
    });
    let script = format!(
        "// Written by `cargo xtask book` (xtask/src/draw.rs) from {}: the network\n\
         // the draw-a-digit page runs, as a safetensors file in base64.\n\
         window.drawDigitModel = {data};\n",
        shipped.copy
    );
    std::fs::create_dir_all(out.join("draw"))?;
    std::fs::write(out.join("draw/model.js"), script)?;
    Ok(())
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with `=` padding (what the page's `atob` reads).
pub fn base64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The bytes of standard base64 (a WebDriver screenshot), or None if it is not base64.
pub fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digits: Vec<u32> = text
        .trim_end_matches('=')
        .bytes()
        .map(|c| ALPHABET.iter().position(|&a| a == c).map(|p| p as u32))
        .collect::<Option<_>>()?;
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0, |n, (i, &d)| n | d << (18 - 6 * i));
        for i in 0..chunk.len().saturating_sub(1) {
            out.push((n >> (16 - 8 * i)) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_and_matches_the_standard() {
        // RFC 4648's test vectors.
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, coded) in vectors {
            assert_eq!(base64_encode(plain.as_bytes()), coded);
            assert_eq!(base64_decode(coded).unwrap(), plain.as_bytes());
        }
        let all: Vec<u8> = (0..=255).collect();
        assert_eq!(base64_decode(&base64_encode(&all)).unwrap(), all);
        assert_eq!(base64_decode("not base64!"), None);
    }

    #[test]
    fn provenance_comes_from_the_run_and_its_transcript() {
        let run = RUNS.iter().find(|r| r.name == "ch6-mlp").unwrap();
        let transcript = "$ cargo run -p ch6-mlp -- --save m.safetensors\nstep 1\n\
                          Test accuracy: 97.50% on the 10,000 test images\n";
        let p = provenance(run, transcript).unwrap();
        assert_eq!(p.command, "cargo run -p ch6-mlp -- --save m.safetensors");
        assert_eq!(p.test_accuracy, "97.50% on the 10,000 test images");
        let seeded = outputs::Run {
            name: "x",
            args: &["-p", "ch6-mlp", "--", "--seed", "7"],
            checked: false,
        };
        let p = provenance(&seeded, transcript).unwrap();
        assert_eq!((p.seed, p.seed_source), (7, "--seed"));
        assert!(provenance(run, "no command\n").is_err());
        assert!(provenance(run, "$ cargo run\nno accuracy\n").is_err());
    }

    /// The book's transcript and model: the script the page loads is made.
    #[test]
    fn the_real_model_script_is_written() {
        let root = crate::workspace_root();
        let out = tempfile::tempdir().unwrap();
        write_model_script(&root, out.path()).unwrap();
        let script = std::fs::read_to_string(out.path().join("draw/model.js")).unwrap();
        let json = script
            .lines()
            .find_map(|l| l.strip_prefix("window.drawDigitModel = "))
            .and_then(|l| l.strip_suffix(';'))
            .unwrap();
        let data: serde_json::Value = serde_json::from_str(json).unwrap();
        let model = std::fs::read(root.join(outputs::DEFAULT_MODEL)).unwrap();
        assert_eq!(
            base64_decode(data["base64"].as_str().unwrap()).unwrap(),
            model
        );
        assert_eq!(data["seed"], train_cli::DEFAULT_SEED);
        assert!(
            data["testAccuracy"]
                .as_str()
                .unwrap()
                .ends_with("test images")
        );
    }
}
