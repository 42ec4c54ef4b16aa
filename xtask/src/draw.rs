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
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

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
    let words = run.words();
    let given = words.windows(2).find(|w| w[0] == "--seed");
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
        "base64": STANDARD.encode(&model),
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

#[cfg(test)]
mod tests {
    use super::*;

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
            args: "-p ch6-mlp -- --seed 7",
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
        let decoded = STANDARD.decode(data["base64"].as_str().unwrap());
        assert_eq!(decoded.unwrap(), model);
        assert_eq!(data["seed"], train_cli::DEFAULT_SEED);
        assert!(
            data["testAccuracy"]
                .as_str()
                .unwrap()
                .ends_with("test images")
        );
    }
}
