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
use serde_json::{Value, json};

use crate::outputs::{self, DEFAULT_MODEL, MODEL_RUN, RUNS};

/// What the page says about the network, taken from the `run` whose
/// transcript is `transcript`: `command` (as typed), `seed`, `seedSource`
/// (`"--seed"` when the command gives it, else `"the default"`) and
/// `testAccuracy` (`98.14% on the 10,000 test images`, as the run printed it).
pub fn provenance(run: &outputs::Run, transcript: &str) -> Result<Value> {
    let name = run.name;
    let command = transcript.lines().next().and_then(|l| l.strip_prefix("$ "));
    let command = command
        .with_context(|| format!("the transcript of {name} does not start with `$ command`"))?;
    let (seed, seed_source) = match run.words().windows(2).find(|w| w[0] == "--seed") {
        Some(w) => (w[1].parse().context("--seed in RUNS")?, "--seed"),
        None => (train_cli::DEFAULT_SEED, "the default"),
    };
    let accuracy = transcript
        .lines()
        .find_map(|l| l.strip_prefix("Test accuracy: "));
    let accuracy =
        accuracy.ok_or_else(|| anyhow!("the transcript of {name} has no `Test accuracy:` line"))?;
    Ok(
        json!({"command": command, "seed": seed, "seedSource": seed_source, "testAccuracy": accuracy}),
    )
}

/// Writes `out/draw/model.js` (out: the built book) from the shipped model
/// and its run's transcript under `root`.
pub fn write_model_script(root: &Path, out: &Path) -> Result<()> {
    let run = RUNS
        .iter()
        .find(|r| r.name == MODEL_RUN)
        .expect("MODEL_RUN names a run");
    let model = std::fs::read(root.join(DEFAULT_MODEL)).with_context(|| {
        format!(
            "cannot read {DEFAULT_MODEL}, the draw page's network (made by `cargo xtask book --refresh --only {MODEL_RUN}`)"
        )
    })?;
    let path = outputs::generated(root, run);
    let transcript = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    let mut data = provenance(run, &transcript)?;
    data["base64"] = STANDARD.encode(&model).into();
    let script = format!(
        "// Written by `cargo xtask book` (xtask/src/draw.rs) from {DEFAULT_MODEL}: the network\n\
         // the draw-a-digit page runs, as a safetensors file in base64.\n\
         window.drawDigitModel = {data};\n"
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
        assert_eq!(p["command"], "cargo run -p ch6-mlp -- --save m.safetensors");
        assert_eq!(p["testAccuracy"], "97.50% on the 10,000 test images");
        assert_eq!(
            (&p["seed"], &p["seedSource"]),
            (&json!(train_cli::DEFAULT_SEED), &json!("the default"))
        );
        let seeded = outputs::Run {
            name: "x",
            args: "-p ch6-mlp -- --seed 7",
            checked: false,
        };
        let p = provenance(&seeded, transcript).unwrap();
        assert_eq!(
            (&p["seed"], &p["seedSource"]),
            (&json!(7), &json!("--seed"))
        );
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
        let data: Value = serde_json::from_str(json).unwrap();
        let model = std::fs::read(root.join(DEFAULT_MODEL)).unwrap();
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
