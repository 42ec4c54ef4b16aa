//! `cargo xtask book`: builds the course book (`book/`) into `book/build/`,
//! fully offline, and refuses a book that is quietly wrong.
//!
//! mdBook runs in-process (`mdbook-driver`, with `mdbook-katex` registered as
//! a type, so no separately installed program is needed). mdBook reports
//! several failures as a log line or not at all (see BOOK-NOTES.md), so:
//! 1. before the build, every `{{#include file}}` and `{{#include file:anchor}}`
//!    of a chapter must name a file that exists and, for an anchor, lines
//!    `ANCHOR: name` and `ANCHOR_END: name` around some text. Anchors in
//!    `crates/` that no chapter includes are listed (a note, not an error);
//! 2. during the build, any WARN or ERROR logged by mdBook or KaTeX (bad
//!    LaTeX, a file it cannot read) fails it;
//! 3. after the build, no page, stylesheet or script may load anything from
//!    another host, and every local file a page loads must be there.

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, OnceLock};

use anyhow::{Context, Result, anyhow, bail};
use mdbook_driver::MDBook;
use regex::Regex;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};

use crate::workspace_root;

/// `{{#include path}}` or `{{#rustdoc_include path}}`; a leading `\` escapes it.
static INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\\)?\{\{\s*#(?:include|rustdoc_include)\s+([^}\s]+)[^}]*\}\}").unwrap()
});
/// mdBook's anchor markers (`take_lines.rs`).
static START: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ANCHOR:\s*([\w_-]+)").unwrap());
static END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ANCHOR_END:\s*([\w_-]+)").unwrap());

/// `cargo xtask book`.
pub fn run() -> Result<()> {
    let root = workspace_root();
    let out = build(&root.join("book"), &root)?;
    println!("Book built in {}", out.display());
    println!(
        "Open {} in a browser to read it (it works offline).",
        out.join("index.html").display()
    );
    Ok(())
}

/// Checks and builds the book in `book_dir`, whose anchors live under
/// `root/crates`; returns the folder of the built HTML.
fn build(book_dir: &Path, root: &Path) -> Result<PathBuf> {
    eprintln!(
        "Checking includes and anchors in {} ...",
        book_dir.display()
    );
    let (problems, used) = check_includes(&book_dir.join("src"), root)?;
    if !problems.is_empty() {
        bail!(
            "{} broken include(s):\n  {}",
            problems.len(),
            problems.join("\n  ")
        );
    }
    let unused = unused_anchors(&root.join("crates"), root, &used)?;
    if !unused.is_empty() {
        eprintln!(
            "Note: {} anchor(s) no chapter includes:\n  {}",
            unused.len(),
            unused.join("\n  ")
        );
    }

    let logged = problems_logged();
    let before = logged.load(Ordering::SeqCst);
    let mut book = MDBook::load(book_dir)
        .map_err(|e| anyhow!("{e:#}"))
        .with_context(|| format!("cannot load the book in {}", book_dir.display()))?;
    check_katex_config(&book)?;
    // Takes the place of book.toml's `[preprocessor.katex]` entry (which would
    // look for an `mdbook-katex` program), in the same place of the order.
    book.with_preprocessor(mdbook_katex::preprocess::KatexProcessor);
    eprintln!("Building the book (mdBook + KaTeX) ...");
    book.build()
        .map_err(|e| anyhow!("{e:#}"))
        .context("mdBook failed to build the book")?;
    let warnings = logged.load(Ordering::SeqCst) - before;
    if warnings > 0 {
        bail!("mdBook or KaTeX reported {warnings} warning(s) or error(s), shown above");
    }

    let out = book.build_dir_for("html");
    let findings = check_output(&out)?;
    if !findings.is_empty() {
        bail!(
            "the built book in {} would not read offline:\n  {}",
            out.display(),
            findings.join("\n  ")
        );
    }
    Ok(out)
}

/// Counts WARN and ERROR events from any thread (KaTeX renders on rayon's
/// threads, so the subscriber is global), and shows them on stderr.
struct CountProblems(&'static AtomicUsize);

impl<S: Subscriber> Layer<S> for CountProblems {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        // In `tracing`, ERROR < WARN < INFO.
        if *event.metadata().level() <= Level::WARN {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// The process's count of logged problems, its subscriber installed on first use.
fn problems_logged() -> &'static AtomicUsize {
    static COUNT: OnceLock<&'static AtomicUsize> = OnceLock::new();
    COUNT.get_or_init(|| {
        let count: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let show = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
        let subscriber = tracing_subscriber::registry()
            .with(show)
            .with(CountProblems(count));
        tracing::subscriber::set_global_default(subscriber).expect("no other log subscriber");
        count
    })
}

/// The KaTeX settings the offline book depends on. mdbook-katex falls back to
/// *all* defaults if any value of its table has the wrong type, so the table
/// is read back the way it will be.
fn check_katex_config(book: &MDBook) -> Result<()> {
    let cfg = mdbook_katex::cfg::get_config(&book.config)?;
    let after: Option<Vec<String>> = book.config.get("preprocessor.katex.after")?;
    let wrong: Vec<&str> = [
        (
            cfg.no_css,
            "no-css = true (else every page links KaTeX's stylesheet on a CDN)",
        ),
        (
            cfg.pre_render,
            "pre-render = true (else formulas need KaTeX's script to read)",
        ),
        (
            cfg.throw_on_error,
            "throw-on-error = true (else bad LaTeX is red text, not a warning)",
        ),
        (
            after.is_some_and(|a| a.iter().any(|p| p == "links")),
            "after = [\"links\"] (else math in included files stays raw)",
        ),
    ]
    .into_iter()
    .filter_map(|(ok, setting)| (!ok).then_some(setting))
    .collect();
    if !wrong.is_empty() {
        bail!(
            "book/book.toml, [preprocessor.katex] must set: {} (a value of the wrong type \
             anywhere in that table resets all of them)",
            wrong.join("; ")
        );
    }
    Ok(())
}

/// The markdown files under `dir`, or the `.rs` files: every file whose name ends in `ext`.
fn files(dir: &Path, ext: &str, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot list {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            files(&path, ext, found)?;
        } else if path.extension().is_some_and(|e| e == ext) {
            found.push(path);
        }
    }
    found.sort();
    Ok(())
}

/// Checks every include of every chapter under `src`. Returns what is wrong
/// (chapter and line first) and the `(file, anchor)` pairs the book uses, as
/// canonical paths.
fn check_includes(src: &Path, root: &Path) -> Result<(Vec<String>, BTreeSet<(PathBuf, String)>)> {
    let (mut problems, mut used) = (Vec::new(), BTreeSet::new());
    let mut chapters = Vec::new();
    files(src, "md", &mut chapters)?;
    for chapter in chapters {
        let text = std::fs::read_to_string(&chapter)?;
        let shown = chapter
            .strip_prefix(root)
            .unwrap_or(&chapter)
            .display()
            .to_string();
        for cap in INCLUDE.captures_iter(&text) {
            if cap.get(1).is_some() {
                continue; // `\{{#include …}}` is shown as text
            }
            let line = text[..cap.get(0).unwrap().start()].matches('\n').count() + 1;
            let (file, selection) = cap[2].split_once(':').unwrap_or((&cap[2], ""));
            // `file:10:20`, `file::5` and `file:` select lines; `file:name` an anchor.
            let anchor = selection
                .split(':')
                .next()
                .filter(|s| s.parse::<usize>().is_err() && !s.is_empty());
            let path = chapter.parent().unwrap_or(src).join(file);
            let mut wrong =
                |what: String| problems.push(format!("{shown}:{line}: {}: {what}", &cap[0]));
            let Ok(source) = std::fs::read_to_string(&path) else {
                wrong(format!("no file {file}"));
                continue;
            };
            if let Some(name) = anchor {
                match anchored(&source, name) {
                    Ok(()) => {
                        used.insert((path.canonicalize()?, name.to_string()));
                    }
                    Err(why) => wrong(format!("anchor `{name}`: {why} in {file}")),
                }
            }
        }
    }
    Ok((problems, used))
}

/// Whether `text` has lines `ANCHOR: name` … `ANCHOR_END: name` around some text.
fn anchored(text: &str, name: &str) -> Result<(), String> {
    let is = |re: &Regex, line: &str| re.captures(line).is_some_and(|c| &c[1] == name);
    let mut lines = text.lines().skip_while(|l| !is(&START, l));
    if lines.next().is_none() {
        return Err(format!("no line `ANCHOR: {name}`"));
    }
    let mut body = false;
    for line in lines {
        if is(&END, line) {
            return if body {
                Ok(())
            } else {
                Err("encloses nothing".into())
            };
        }
        body |= !line.trim().is_empty() && !START.is_match(line) && !END.is_match(line);
    }
    Err(format!(
        "no line `ANCHOR_END: {name}` after its `ANCHOR: {name}`"
    ))
}

/// `file: name` for every anchor in the `.rs` files under `dir` that is not in `used`.
fn unused_anchors(
    dir: &Path,
    root: &Path,
    used: &BTreeSet<(PathBuf, String)>,
) -> Result<Vec<String>> {
    let mut sources = Vec::new();
    files(dir, "rs", &mut sources)?;
    let mut unused = Vec::new();
    for file in sources {
        let canonical = file.canonicalize()?;
        for cap in START.captures_iter(&std::fs::read_to_string(&file)?) {
            if !used.contains(&(canonical.clone(), cap[1].to_string())) {
                unused.push(format!(
                    "{}: {}",
                    file.strip_prefix(root).unwrap_or(&file).display(),
                    &cap[1]
                ));
            }
        }
    }
    Ok(unused)
}

/// An opening tag with its attributes.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^>]*)?>").unwrap());
/// An attribute that loads what it names.
static LOADS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|\s)(src|srcset|href|poster|data|action)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#).unwrap()
});
/// `url(…)` and `@import "…"`, in CSS, style attributes and scripts.
static CSS_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)url\(\s*['"]?([^'")\s]+)|@import\s+(?:url\()?\s*['"]?([^'")\s;]+)"#).unwrap()
});
/// A runnable Rust block, which mdBook's book.js sends to play.rust-lang.org.
static PLAYGROUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<pre\s[^>]*class\s*=\s*["']?[^"'>]*\bplayground\b"#).unwrap());

fn offsite(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    u.starts_with("http://") || u.starts_with("https://") || u.starts_with("//")
}

/// What a built file (`rel`, inside the output folder) loads from another
/// host and, for a page, which local files it loads that `exists` denies.
/// An `<a href>` is a link the reader may follow, not a load.
fn check_file(rel: &Path, text: &str, exists: &dyn Fn(&Path) -> bool) -> Vec<String> {
    let page = rel.extension().is_some_and(|e| e == "html");
    let mut urls: Vec<String> = Vec::new();
    if page {
        for tag in TAG.captures_iter(text) {
            let name = tag[1].to_ascii_lowercase();
            for attr in LOADS.captures_iter(tag.get(2).map_or("", |a| a.as_str())) {
                let value = (2..=4).find_map(|i| attr.get(i)).map_or("", |m| m.as_str());
                if name == "a" || (name == "base" && !offsite(value)) {
                    continue;
                }
                match attr[1].eq_ignore_ascii_case("srcset") {
                    // "a.png 1x, b.png 2x": a URL is the first word of each item.
                    true => urls.extend(
                        value
                            .split(',')
                            .filter_map(|i| i.split_whitespace().next())
                            .map(String::from),
                    ),
                    false => urls.push(value.to_string()),
                }
            }
        }
        if PLAYGROUND.is_match(text) {
            urls.push("https://play.rust-lang.org/ (a runnable Rust block)".into());
        }
    }
    urls.extend(
        CSS_URL
            .captures_iter(text)
            .filter_map(|c| c.get(1).or(c.get(2)))
            .map(|m| m.as_str().to_string()),
    );
    let mut findings = Vec::new();
    for url in urls {
        if offsite(&url) {
            findings.push(format!("{}: loads {url} from another host", rel.display()));
            continue;
        }
        // Only pages are checked for missing files: scripts build their URLs
        // at run time, and KaTeX's stylesheet names font fallbacks (.woff,
        // .ttf) that are not shipped on purpose (browsers use the .woff2).
        let path = url.split(['?', '#']).next().unwrap_or("");
        if !page
            || path.is_empty()
            || path.contains(':')
            || path.contains("{{")
            || path.contains('$')
        {
            continue;
        }
        let mut target = PathBuf::new();
        let base = rel
            .parent()
            .filter(|_| !path.starts_with('/'))
            .unwrap_or(Path::new(""));
        for part in base.join(path.trim_start_matches('/')).components() {
            match part {
                std::path::Component::ParentDir => {
                    target.pop();
                }
                std::path::Component::Normal(p) => target.push(p),
                _ => {}
            }
        }
        if !exists(&target) {
            findings.push(format!(
                "{}: loads {url}, which is not in the built book",
                rel.display()
            ));
        }
    }
    findings
}

/// Checks every `.html`, `.css` and `.js` file of the built book in `out`.
fn check_output(out: &Path) -> Result<Vec<String>> {
    let mut findings = Vec::new();
    for ext in ["html", "css", "js"] {
        let mut found = Vec::new();
        files(out, ext, &mut found)?;
        for file in found {
            let text = String::from_utf8_lossy(&std::fs::read(&file)?).into_owned();
            let rel = file.strip_prefix(out).unwrap_or(&file);
            findings.extend(check_file(rel, &text, &|p| out.join(p).is_file()));
        }
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "// ANCHOR: forward\nfn forward() {}\n// ANCHOR: inner\nlet x = 1;\n// ANCHOR_END: inner\n\
        // ANCHOR_END: forward\n// ANCHOR: forward_pass\nfn f() {}\n// ANCHOR_END: forward_pass\n\
        // ANCHOR: empty\n// ANCHOR_END: empty\n// ANCHOR: unclosed\nfn tail() {}\n";

    /// A workspace with `crates/a/lib.rs` = SOURCE and one chapter; the include problems and the unused anchors.
    fn check(chapter: &str) -> (Vec<String>, Vec<String>) {
        let root = tempfile::tempdir().unwrap();
        let root = root.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("crates/a")).unwrap();
        std::fs::create_dir_all(root.join("book/src")).unwrap();
        std::fs::write(root.join("crates/a/lib.rs"), SOURCE).unwrap();
        std::fs::write(root.join("book/src/ch.md"), chapter).unwrap();
        let (problems, used) = check_includes(&root.join("book/src"), &root).unwrap();
        (
            problems,
            unused_anchors(&root.join("crates"), &root, &used).unwrap(),
        )
    }

    #[test]
    fn good_includes_pass_and_unused_anchors_are_listed() {
        let (problems, unused) = check(
            "# T\n```rust\n{{#include ../../crates/a/lib.rs:forward}}\n```\n\
             {{#rustdoc_include ../../crates/a/lib.rs:inner}} {{#include ../../crates/a/lib.rs}}\n\
             {{#include ../../crates/a/lib.rs:2:4}} {{#include ../../crates/a/lib.rs::3}} \
             {{#include ../../crates/a/lib.rs:3:}} \\{{#include nowhere.rs:x}}",
        );
        assert_eq!(problems, Vec::<String>::new());
        let unused: Vec<&str> = unused.iter().map(|u| u.as_str()).collect();
        assert_eq!(
            unused,
            [
                "crates/a/lib.rs: forward_pass",
                "crates/a/lib.rs: empty",
                "crates/a/lib.rs: unclosed"
            ]
        );
    }

    #[test]
    fn missing_files_and_anchors_fail_naming_chapter_and_line() {
        let (problems, _) = check(
            "intro\n\n{{#include ../../crates/a/lib.rs:fowrard}}\n{{#include ../../crates/a/lib.rs:forward_}}\n\
             {{#include ../../crates/a/lib.rs:empty}} {{#include ../../crates/a/lib.rs:unclosed}}\n\
             {{#include ../../crates/a/gone.rs}}\n",
        );
        assert_eq!(problems.len(), 5, "{problems:#?}");
        assert!(problems[0].starts_with("book/src/ch.md:3: {{#include ../../crates/a/lib.rs:fowrard}}: anchor `fowrard`: no line `ANCHOR: fowrard`"), "{}", problems[0]);
        // `ANCHOR: forward_pass` is not `ANCHOR: forward_`.
        assert!(problems[1].contains(":4:") && problems[1].contains("no line `ANCHOR: forward_`"));
        assert!(
            problems[2].contains(":5:") && problems[2].contains("anchor `empty`: encloses nothing")
        );
        assert!(problems[3].contains("no line `ANCHOR_END: unclosed`"));
        assert!(
            problems[4].contains(":6:") && problems[4].ends_with("no file ../../crates/a/gone.rs")
        );
    }

    /// The real book: every include of every chapter resolves.
    #[test]
    fn the_real_book_has_no_broken_include() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .canonicalize()
            .unwrap();
        let (problems, _) = check_includes(&root.join("book/src"), &root).unwrap();
        assert_eq!(problems, Vec::<String>::new());
    }

    fn offsite_urls(rel: &str, text: &str) -> Vec<String> {
        check_file(Path::new(rel), text, &|_| true)
    }

    #[test]
    fn anything_loaded_from_another_host_is_found() {
        let page = r#"<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.4/dist/katex.min.css">
            <script async src="https://cdn.example.com/MathJax.js"></script><link rel=icon href=//example.org/i.png>
            <base href="https://example.net/"><style>@import "http://fonts.example.com/css";</style>
            <img srcset="local.png 1x, https://example.org/b.png 2x"><div style="background: url(https://example.org/bg.png)">
            <pre class="playground"><code>fn main() {}</code></pre>"#;
        let found = offsite_urls("ch/page.html", page);
        assert_eq!(found.len(), 8, "{found:#?}");
        assert!(
            found
                .iter()
                .all(|f| f.starts_with("ch/page.html: loads ") && f.ends_with("from another host"))
        );
        assert!(found[0].contains("cdn.jsdelivr.net") && found[5].contains("play.rust-lang.org"));
        let css = "@font-face{src:url(fonts/K.woff2)} @font-face{src:url('https://cdn.example.com/L.woff2')}";
        assert_eq!(offsite_urls("katex/katex.min.css", css).len(), 1);
        let js = r#"var a = "url(https://cdn.example.com/x.png)"; var b = "img/" + name;"#;
        assert_eq!(offsite_urls("book.js", js).len(), 1);
    }

    #[test]
    fn links_to_follow_and_local_files_are_fine_but_missing_ones_are_not() {
        let page = r#"<p>See <a href="https://yann.lecun.com/exdb/mnist/">MNIST</a>, <a href='http://x.org'>x</a>.</p>
            <link rel="stylesheet" href="../katex/katex.min.css"><script src="../book.js?v=1"></script>
            <img src="data:image/png;base64,AAAA"><base href="/"><code>let url = "https://example.org/src=x";</code>
            <img src="../img/gone.png#x">"#;
        let exists = |p: &Path| p == Path::new("katex/katex.min.css") || p == Path::new("book.js");
        let found = check_file(Path::new("ch/page.html"), page, &exists);
        assert_eq!(
            found,
            ["ch/page.html: loads ../img/gone.png#x, which is not in the built book"]
        );
    }

    /// The whole build on a small book: it passes, then fails on bad LaTeX
    /// (a warning mdBook would let through) and on a missing include.
    #[test]
    fn the_build_fails_on_bad_latex_and_broken_includes() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("book/src")).unwrap();
        std::fs::create_dir_all(root.join("crates")).unwrap();
        let toml = "[book]\ntitle = \"t\"\n[preprocessor.katex]\nafter = [\"links\"]\npre-render = true\n\
                    no-css = true\nthrow-on-error = true\n[output.html.playground]\nrunnable = false\n";
        std::fs::write(root.join("book/book.toml"), toml).unwrap();
        std::fs::write(
            root.join("book/src/SUMMARY.md"),
            "# Summary\n\n- [One](one.md)\n",
        )
        .unwrap();
        let page = |math: &str| {
            std::fs::write(root.join("book/src/one.md"), format!("# One\n\n{math}\n")).unwrap()
        };
        page("$x^2$");
        let out = build(&root.join("book"), &root).unwrap();
        assert!(
            std::fs::read_to_string(out.join("one.html"))
                .unwrap()
                .contains("katex")
        );
        page("$\\frac{1}{$");
        let err = build(&root.join("book"), &root).unwrap_err().to_string();
        assert!(err.contains("warning(s)"), "{err}");
        page("{{#include missing.rs}}");
        let err = build(&root.join("book"), &root).unwrap_err().to_string();
        assert!(err.contains("broken include"), "{err}");
        std::fs::write(
            root.join("book/book.toml"),
            toml.replace("throw-on-error = true", "throw-on-error = 1"),
        )
        .unwrap();
        page("$x$");
        let err = build(&root.join("book"), &root).unwrap_err().to_string();
        assert!(
            err.contains("no-css = true") && err.contains("wrong type"),
            "{err}"
        );
    }
}
