//! `cargo xtask book`: builds the course book (`book/`) into `book/build/`,
//! fully offline, and refuses to produce a book that is quietly wrong.
//!
//! mdBook runs in-process (the `mdbook-driver` library, with the
//! `mdbook-katex` preprocessor registered as a type, so no separately
//! installed program is needed). Around the build, three checks turn
//! mdBook's silent failures into errors:
//! 1. before: every `{{#include file:anchor}}` resolves to non-empty text
//!    ([`includes`]), naming the chapter, line and anchor when one does not;
//! 2. during: any WARN or ERROR that mdBook or KaTeX logs (a missing file,
//!    bad LaTeX) fails the build;
//! 3. after: no page loads anything from another host, and every file a page
//!    loads is there ([`offsite`]).

mod includes;
mod offsite;

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, bail};
use mdbook_driver::MDBook;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};
use tracing_subscriber::{Layer, filter::LevelFilter};

use crate::workspace_root;

/// Counts log events at WARN or ERROR, from any thread (KaTeX renders on
/// rayon's threads, so the subscriber must be global, not scoped).
struct CountProblems(Arc<AtomicUsize>);

impl<S: Subscriber> Layer<S> for CountProblems {
    fn on_event(&self, event: &Event<'_>, _ctx: LayerContext<'_, S>) {
        // In `tracing`, ERROR < WARN < INFO: "at most WARN" means WARN or ERROR.
        if *event.metadata().level() <= Level::WARN {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Shows warnings and errors on stderr and returns the counter of them.
fn install_logging() -> anyhow::Result<Arc<AtomicUsize>> {
    let count = Arc::new(AtomicUsize::new(0));
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_target(true)
                .with_ansi(std::io::stderr().is_terminal())
                .without_time()
                .with_filter(LevelFilter::WARN),
        )
        .with(CountProblems(Arc::clone(&count)));
    tracing::subscriber::set_global_default(subscriber)
        .context("cannot install the log subscriber")?;
    Ok(count)
}

/// The KaTeX settings the offline book depends on. mdbook-katex falls back to
/// *all* defaults (CDN stylesheet included) if any value in its table has the
/// wrong type, so read the table back the way it will and check it.
fn check_katex_config(book: &MDBook) -> anyhow::Result<()> {
    let cfg = mdbook_katex::cfg::get_config(&book.config)
        .context("book/book.toml: cannot read [preprocessor.katex]")?;
    let mut wrong = Vec::new();
    if !cfg.no_css {
        wrong.push("no-css = true (otherwise every page links the KaTeX stylesheet on a CDN)");
    }
    if !cfg.pre_render {
        wrong.push("pre-render = true (otherwise formulas need KaTeX's script at read time)");
    }
    if !cfg.throw_on_error {
        wrong.push("throw-on-error = true (otherwise bad LaTeX becomes red text, not an error)");
    }
    if !wrong.is_empty() {
        bail!(
            "book/book.toml: [preprocessor.katex] must set {} \
             (a value of the wrong type anywhere in that table resets all of them)",
            wrong.join(", ")
        );
    }
    let after: Option<Vec<String>> = book
        .config
        .get("preprocessor.katex.after")
        .context("book/book.toml: preprocessor.katex.after must be a list of names")?;
    if !after.is_some_and(|a| a.iter().any(|p| p == "links")) {
        bail!(
            "book/book.toml: [preprocessor.katex] needs after = [\"links\"], \
             or math inside {{{{#include}}}}d files stays raw"
        );
    }
    Ok(())
}

/// `cargo xtask book`.
pub fn run() -> anyhow::Result<()> {
    let root = workspace_root();
    let book_dir = root.join("book");

    eprintln!("Checking includes and anchors in book/src ...");
    let problems = includes::check_book(&book_dir.join("src"), &root)?;
    if !problems.is_empty() {
        let list: Vec<String> = problems.iter().map(|p| format!("  {p}")).collect();
        bail!(
            "{} broken include(s) in the book (fix the chapter or the `// ANCHOR:` markers in the source):\n{}",
            problems.len(),
            list.join("\n")
        );
    }

    let problems_logged = install_logging()?;
    let mut book = MDBook::load(&book_dir)
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .with_context(|| format!("cannot load the book in {}", book_dir.display()))?;
    check_katex_config(&book)?;
    // Replaces the `[preprocessor.katex]` entry of book.toml (which would look
    // for an `mdbook-katex` program) by the library's type, in the same place
    // of the preprocessor order.
    book.with_preprocessor(mdbook_katex::preprocess::KatexProcessor);
    eprintln!("Building the book (mdBook + KaTeX) ...");
    book.build()
        .map_err(|e| anyhow::anyhow!("{e:#}"))
        .context("mdBook failed to build the book")?;
    let logged = problems_logged.load(Ordering::Relaxed);
    if logged > 0 {
        bail!(
            "mdBook reported {logged} warning(s) or error(s), shown above; the book is not accepted"
        );
    }

    let out = book.build_dir_for("html");
    let findings = offsite::check_output(&out)?;
    if !findings.is_empty() {
        let list: Vec<String> = findings.iter().map(|f| format!("  {f}")).collect();
        bail!(
            "the built book in {} would not read offline:\n{}",
            out.display(),
            list.join("\n")
        );
    }

    let index = out.join("index.html");
    if !index.is_file() {
        bail!("the build finished but {} is missing", index.display());
    }
    println!("Book built in {}", out.display());
    println!(
        "Open {} in a browser to read it (it works offline).",
        index.display()
    );
    Ok(())
}
