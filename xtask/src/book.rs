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
use std::sync::{LazyLock, Once};

use anyhow::{Context, Result, anyhow, bail};
use mdbook_driver::MDBook;
use regex::Regex;
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context as LayerContext, Layer, SubscriberExt};
use train_cli::count;

use crate::workspace_root;

/// `{{#include path}}` or `{{#rustdoc_include path}}`; a leading `\` escapes it.
static INCLUDE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\\)?\{\{\s*#(?:include|rustdoc_include)\s+([^}\s]+)[^}]*\}\}").unwrap()
});
/// mdBook's anchor markers (`take_lines.rs`).
static START: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ANCHOR:\s*([\w_-]+)").unwrap());
static END: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"ANCHOR_END:\s*([\w_-]+)").unwrap());

/// An included anchor: the file (canonical path) and the anchor's name.
type Anchor = (PathBuf, String);

/// `cargo xtask book` flags.
#[derive(clap::Args)]
pub struct BookArgs {
    /// First re-run every program whose output the book shows, and rewrite book/src/generated/run-*.txt
    #[arg(long)]
    refresh: bool,
    /// First re-run the quick ones and fail if the book's copy of their output differs (what CI runs)
    #[arg(long, conflicts_with = "refresh")]
    check_outputs: bool,
    /// With --refresh: only this run (such as ch6-mlp-keras); repeat for several
    #[arg(long, value_name = "RUN", requires = "refresh")]
    only: Vec<String>,
}

/// `cargo xtask book`: the program outputs first when asked (see [`crate::outputs`]).
pub fn run(args: &BookArgs) -> Result<()> {
    if args.refresh {
        crate::outputs::refresh(&args.only)?;
    }
    if args.check_outputs {
        crate::outputs::check()?;
    }
    let root = workspace_root();
    let index = build(&root.join("book"), &root)?.join("index.html");
    println!("Book built: open {} to read it (offline).", index.display());
    Ok(())
}

/// `"3 broken includes:"` and one item a line below.
fn listed(items: &[String], what: &str) -> String {
    format!("{}:\n  {}", count(items.len(), what), items.join("\n  "))
}

/// Checks and builds the book in `book_dir`, whose code lives under
/// `root/crates`; returns the folder of the built HTML.
pub fn build(book_dir: &Path, root: &Path) -> Result<PathBuf> {
    let (problems, used) = check_includes(&book_dir.join("src"), root)?;
    if !problems.is_empty() {
        bail!("{}", listed(&problems, "broken include"));
    }
    let missing: String = missing_cjk_glyphs(&book_dir.join("src"))?
        .into_iter()
        .collect();
    if !missing.is_empty() {
        let n = count(missing.chars().count(), "character");
        bail!(
            "{CJK_FONT} lacks {n} the chapters use: {missing}; make it again with the command in book/src/fonts/README.md"
        );
    }
    let unused = unused_anchors(&root.join("crates"), root, &used)?;
    if !unused.is_empty() {
        eprintln!(
            "Note, not included by any chapter: {}",
            listed(&unused, "anchor")
        );
    }

    install_logging();
    let before = LOGGED.load(Ordering::SeqCst);
    let mut book = MDBook::load(book_dir).map_err(|e| anyhow!("{e:#}"))?;
    check_katex_config(&book)?;
    // Takes the place of book.toml's `[preprocessor.katex]` entry (which would
    // look for an `mdbook-katex` program), in the same place of the order.
    book.with_preprocessor(mdbook_katex::preprocess::KatexProcessor);
    eprintln!("Building the book (mdBook + KaTeX) ...");
    book.build().map_err(|e| anyhow!("mdBook failed: {e:#}"))?;
    let logged = LOGGED.load(Ordering::SeqCst) - before;
    if logged > 0 {
        bail!(
            "mdBook or KaTeX logged {}, shown above",
            count(logged, "problem")
        );
    }

    let out = book.build_dir_for("html");
    if out.join("draw.html").is_file() {
        // The draw-a-digit page runs the network the book ships.
        crate::draw::write_model_script(root, &out)?;
    }
    let findings = check_output(&out)?;
    if !findings.is_empty() {
        bail!(
            "the book would not read offline: {}",
            listed(&findings, "load")
        );
    }
    Ok(out)
}

/// The font the book's stylesheet gives Chinese text, under `book/src/`.
const CJK_FONT: &str = "fonts/noto-sans-sc-subset.otf";

/// Whether `c` is in the ranges the stylesheet's `@font-face` gives to
/// [`CJK_FONT`] (`unicode-range: U+2E80-9FFF, U+FF00-FFEF`).
fn is_cjk(c: char) -> bool {
    matches!(c, '\u{2E80}'..='\u{9FFF}' | '\u{FF00}'..='\u{FFEF}')
}

/// The characters of the chapters (`src/*.md`) in the CJK ranges that the
/// font subset has no glyph for, so that a new Chinese term cannot fall back
/// to whatever font the reader's machine has, or to none.
fn missing_cjk_glyphs(src: &Path) -> Result<BTreeSet<char>> {
    let mut used = BTreeSet::new();
    for entry in std::fs::read_dir(src)? {
        let file = entry?.path();
        if file.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&file)?;
            used.extend(text.chars().filter(|&c| is_cjk(c)));
        }
    }
    if used.is_empty() {
        return Ok(used);
    }
    let path = src.join(CJK_FONT);
    let data = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
    let face = ttf_parser::Face::parse(&data, 0)
        .map_err(|e| anyhow!("{}: not a font ({e})", path.display()))?;
    Ok(used
        .into_iter()
        .filter(|&c| face.glyph_index(c).is_none())
        .collect())
}

/// WARN and ERROR events logged so far, from any thread: KaTeX renders on
/// rayon's threads, so the subscriber is global.
static LOGGED: AtomicUsize = AtomicUsize::new(0);

struct CountProblems;

impl<S: Subscriber> Layer<S> for CountProblems {
    fn on_event(&self, event: &Event<'_>, _: LayerContext<'_, S>) {
        // In `tracing`, ERROR < WARN < INFO.
        if *event.metadata().level() <= Level::WARN {
            LOGGED.fetch_add(1, Ordering::SeqCst);
        }
    }
}

/// Shows warnings and errors on stderr and counts them in [`LOGGED`].
fn install_logging() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let show = tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(std::io::stderr().is_terminal())
            .without_time()
            .with_filter(tracing_subscriber::filter::LevelFilter::WARN);
        let subscriber = tracing_subscriber::registry()
            .with(show)
            .with(CountProblems);
        tracing::subscriber::set_global_default(subscriber).expect("no other log subscriber");
    });
}

/// The KaTeX settings the offline book depends on: `no-css` (else every page
/// links KaTeX's stylesheet on a CDN), `pre-render` (else formulas wait for a
/// script), `throw-on-error` (else bad LaTeX is red text, not a warning) and
/// `after = ["links"]` (else math in included files stays raw). A value of
/// the wrong type resets the whole table to defaults, so it is read back as
/// mdbook-katex will read it.
fn check_katex_config(book: &MDBook) -> Result<()> {
    let cfg = mdbook_katex::cfg::get_config(&book.config)?;
    let after: Option<Vec<String>> = book.config.get("preprocessor.katex.after")?;
    let after = after.is_some_and(|a| a.iter().any(|p| p == "links"));
    let wrong: Vec<&str> = [
        (cfg.no_css, "no-css = true"),
        (cfg.pre_render, "pre-render = true"),
        (cfg.throw_on_error, "throw-on-error = true"),
        (after, "after = [\"links\"]"),
    ]
    .into_iter()
    .filter_map(|(ok, setting)| (!ok).then_some(setting))
    .collect();
    if !wrong.is_empty() {
        let wrong = wrong.join(", ");
        bail!("book.toml: [preprocessor.katex] needs {wrong} (and no value of a wrong type)");
    }
    Ok(())
}

/// Every file under `dir` whose name ends in one of `exts`, sorted.
fn files(dir: &Path, exts: &[&str]) -> Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let path = entry
            .with_context(|| format!("cannot list {}", dir.display()))?
            .into_path();
        if path.is_file()
            && path
                .extension()
                .is_some_and(|e| exts.iter().any(|x| e == *x))
        {
            found.push(path);
        }
    }
    Ok(found)
}

/// Checks every include of every chapter under `src`. Returns what is wrong
/// (chapter and line first) and the anchors the book includes.
fn check_includes(src: &Path, root: &Path) -> Result<(Vec<String>, BTreeSet<Anchor>)> {
    let (mut problems, mut used) = (Vec::new(), BTreeSet::new());
    for chapter in files(src, &["md"])? {
        let text = std::fs::read_to_string(&chapter)?;
        let shown = chapter.strip_prefix(root).unwrap_or(&chapter).to_owned();
        for cap in INCLUDE.captures_iter(&text) {
            if cap.get(1).is_some() {
                continue; // `\{{#include …}}` is shown as text
            }
            let line = text[..cap.get(0).unwrap().start()].matches('\n').count() + 1;
            let at = format!("{}:{line}: {}", shown.display(), &cap[0]);
            let (file, selection) = cap[2].split_once(':').unwrap_or((&cap[2], ""));
            // `file:10:20`, `file::5` and `file:` select lines; `file:name` an anchor.
            let name = selection.split(':').next().unwrap_or_default();
            let path = chapter.parent().unwrap_or(src).join(file);
            let Ok(source) = std::fs::read_to_string(&path) else {
                problems.push(format!("{at}: no file {file}"));
                continue;
            };
            if name.is_empty() || name.parse::<usize>().is_ok() {
                continue;
            }
            match anchored(&source, name) {
                Ok(()) => _ = used.insert((path.canonicalize()?, name.to_string())),
                Err(why) => problems.push(format!("{at}: anchor `{name}`: {why} in {file}")),
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
            return body.then_some(()).ok_or("encloses nothing".into());
        }
        body |= !line.trim().is_empty() && !START.is_match(line) && !END.is_match(line);
    }
    Err(format!("no line `ANCHOR_END: {name}` after it"))
}

/// `file: name` for each anchor in the `.rs` files under `dir` not in `used`.
fn unused_anchors(dir: &Path, root: &Path, used: &BTreeSet<Anchor>) -> Result<Vec<String>> {
    let mut unused = Vec::new();
    for file in files(dir, &["rs"])? {
        let (text, canonical) = (std::fs::read_to_string(&file)?, file.canonicalize()?);
        let shown = file.strip_prefix(root).unwrap_or(&file).display();
        for cap in START.captures_iter(&text) {
            if !used.contains(&(canonical.clone(), cap[1].to_string())) {
                unused.push(format!("{shown}: {}", &cap[1]));
            }
        }
    }
    Ok(unused)
}

/// An opening tag with its attributes.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^>]*)?>").unwrap());
/// An attribute that loads what it names, with its value.
static LOADS: LazyLock<Regex> = LazyLock::new(|| {
    let (names, value) = (
        r"src|srcset|href|poster|data|action",
        r#""([^"]*)"|'([^']*)'|([^\s>]+)"#,
    );
    Regex::new(&format!(r"(?i)(?:^|\s)({names})\s*=\s*(?:{value})")).unwrap()
});
/// `url(…)` and `@import "…"`, in CSS, style attributes and scripts.
static CSS_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)url\(\s*['"]?([^'")\s]+)|@import\s+(?:url\()?\s*['"]?([^'")\s;]+)"#).unwrap()
});
/// A runnable Rust block, which mdBook's book.js sends to play.rust-lang.org.
static PLAYGROUND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r#"<pre\s[^>]*class\s*=\s*["']?[^"'>]*\bplayground\b"#).unwrap());

fn offsite(url: &str) -> bool {
    let u = url.to_ascii_lowercase();
    u.starts_with("http://") || u.starts_with("https://") || u.starts_with("//")
}

/// What the built file `rel` (a path inside the output folder) loads from
/// another host and, for a page, the local files it loads that `exists`
/// (given a path relative to the output folder) does not find. An `<a href>`
/// is a link the reader may follow, not a load.
fn check_file(rel: &Path, text: &str, exists: &dyn Fn(&Path) -> bool) -> Vec<String> {
    let page = rel.extension().is_some_and(|e| e == "html");
    let mut urls: Vec<&str> = Vec::new();
    for tag in TAG.captures_iter(text).filter(|_| page) {
        let (name, attributes) = (tag[1].to_ascii_lowercase(), tag.get(2));
        for attr in LOADS.captures_iter(attributes.map_or("", |a| a.as_str())) {
            let value = (2..=4).find_map(|i| attr.get(i)).map_or("", |m| m.as_str());
            if name != "a" && (name != "base" || offsite(value)) {
                // `srcset="a.png 1x, b.png 2x"`: a URL is the first word of each item.
                urls.extend(value.split(',').filter_map(|i| i.split_whitespace().next()));
            }
        }
    }
    if page && PLAYGROUND.is_match(text) {
        urls.push("https://play.rust-lang.org/ (for a runnable Rust block)");
    }
    let css = CSS_URL
        .captures_iter(text)
        .filter_map(|c| c.get(1).or(c.get(2)));
    urls.extend(css.map(|m| m.as_str()));

    let mut findings = Vec::new();
    for url in urls {
        let path = url.split(['?', '#']).next().unwrap_or_default();
        let local = !(path.is_empty() || path.contains([':', '$']) || path.contains("{{"));
        let base = rel.parent().filter(|_| !path.starts_with('/'));
        let target = base
            .unwrap_or(Path::new(""))
            .join(path.trim_start_matches('/'));
        if offsite(url) {
            findings.push(format!("{}: {url} from another host", rel.display()));
        } else if page && local && !exists(&target) {
            // Only pages: scripts build their URLs at run time, and KaTeX's
            // stylesheet names font fallbacks (.woff, .ttf) not shipped on purpose.
            findings.push(format!("{}: {url}, not in the built book", rel.display()));
        }
    }
    findings
}

/// Checks every `.html`, `.css` and `.js` file of the built book in `out`.
fn check_output(out: &Path) -> Result<Vec<String>> {
    let mut findings = Vec::new();
    for file in files(out, &["html", "css", "js"])? {
        let text = String::from_utf8_lossy(&std::fs::read(&file)?).into_owned();
        let rel = file.strip_prefix(out).unwrap_or(&file);
        findings.extend(check_file(rel, &text, &|p| out.join(p).is_file()));
    }
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "// ANCHOR: forward\nfn forward() {}\n// ANCHOR: inner\nlet x = 1;\n\
        // ANCHOR_END: inner\n// ANCHOR_END: forward\n// ANCHOR: forward_pass\nfn f() {}\n\
        // ANCHOR_END: forward_pass\n// ANCHOR: empty\n// ANCHOR_END: empty\n// ANCHOR: open\n";

    /// A chapter and `a.rs` = SOURCE beside it: the include problems, and
    /// the anchors no chapter includes.
    fn check(chapter: &str) -> (Vec<String>, Vec<String>) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.rs"), SOURCE).unwrap();
        std::fs::write(root.join("ch.md"), chapter).unwrap();
        let (problems, used) = check_includes(&root, &root).unwrap();
        (problems, unused_anchors(&root, &root, &used).unwrap())
    }

    #[test]
    fn good_includes_pass_and_unused_anchors_are_listed() {
        let (problems, unused) = check(
            "```rust\n{{#include a.rs:forward}}\n```\n{{#rustdoc_include a.rs:inner}}\n\
             {{#include a.rs}} {{#include a.rs:2:4}} {{#include a.rs::3}} {{#include a.rs:3:}}\n\
             \\{{#include nowhere.rs:x}}",
        );
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(unused, ["a.rs: forward_pass", "a.rs: empty", "a.rs: open"]);
    }

    #[test]
    fn missing_files_and_anchors_fail_naming_chapter_and_line() {
        let (problems, _) = check(
            "intro\n\n{{#include a.rs:fowrard}}\n{{#include a.rs:forward_}}\n\
             {{#include a.rs:empty}}\n{{#include a.rs:open}}\n{{#include gone.rs:x}}\n",
        );
        let expected = [
            "ch.md:3: {{#include a.rs:fowrard}}: anchor `fowrard`: no line `ANCHOR: fowrard` in a.rs",
            // `ANCHOR: forward_pass` is not `ANCHOR: forward_`.
            "ch.md:4: {{#include a.rs:forward_}}: anchor `forward_`: no line `ANCHOR: forward_` in a.rs",
            "ch.md:5: {{#include a.rs:empty}}: anchor `empty`: encloses nothing in a.rs",
            "ch.md:6: {{#include a.rs:open}}: anchor `open`: no line `ANCHOR_END: open` after it in a.rs",
            "ch.md:7: {{#include gone.rs:x}}: no file gone.rs",
        ];
        assert_eq!(problems, expected);
    }

    /// The shipped font has every Chinese character of the real book, and a
    /// chapter that uses one it lacks is caught.
    #[test]
    fn the_cjk_font_covers_the_chapters_and_a_new_character_is_caught() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let src = root.join("book/src");
        assert_eq!(missing_cjk_glyphs(&src).unwrap(), BTreeSet::new());

        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("fonts")).unwrap();
        std::fs::copy(src.join(CJK_FONT), dir.path().join(CJK_FONT)).unwrap();
        std::fs::write(dir.path().join("ch.md"), "梯度 (gradient), 龘\n").unwrap();
        let missing = missing_cjk_glyphs(dir.path()).unwrap();
        assert_eq!(missing, BTreeSet::from(['龘']));
    }

    /// The real book: every include of every chapter resolves.
    #[test]
    fn the_real_book_has_no_broken_include() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let (problems, _) = check_includes(&root.join("book/src"), root).unwrap();
        assert_eq!(problems, Vec::<String>::new());
    }

    #[test]
    fn anything_loaded_from_another_host_is_found() {
        let page = r#"<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex/katex.min.css">
            <script async src="https://cdn.example.com/MathJax.js"></script><link rel=icon href=//x.org/i.png>
            <base href="https://example.net/"><style>@import "http://fonts.example.com/css";</style>
            <img srcset="local.png 1x, https://example.org/b.png 2x"><div style="background: url(https://x.org/bg.png)">
            <pre class="playground"><code>fn main() {}</code></pre>"#;
        let found = check_file(Path::new("ch/page.html"), page, &|_| true);
        let hosts = "cdn.jsdelivr.net cdn.example.com //x.org/i example.net example.org/b \
                     play.rust-lang.org fonts.example.com x.org/bg";
        assert_eq!(found.len(), hosts.split(' ').count(), "{found:#?}");
        for (finding, host) in found.iter().zip(hosts.split(' ')) {
            let said = finding.starts_with("ch/page.html: ") && finding.contains(host);
            assert!(said, "{finding}");
        }
        let css = "@font-face{src:url(fonts/K.woff2)} @font-face{src:url('https://x.org/L.woff2')}";
        let js = r#"var a = "url(https://cdn.example.com/x.png)"; var b = "img/" + name;"#;
        for (file, text) in [("katex.min.css", css), ("book.js", js)] {
            let found = check_file(Path::new(file), text, &|_| false);
            assert_eq!(found.len(), 1, "{file}");
        }
    }

    #[test]
    fn links_to_follow_and_local_files_are_fine_but_missing_ones_are_not() {
        let page = r#"<p>See <a href="https://yann.lecun.com/exdb/mnist/">MNIST</a>.</p>
            <link rel="stylesheet" href="../katex/katex.min.css"><script src="../book.js?v=1"></script>
            <img src="data:image/png;base64,AAAA"><base href="/"><code>"https://example.org/src=x"</code>
            <img src="../img/gone.png#x"><img src="/img/gone.png">"#;
        let found = check_file(Path::new("ch/page.html"), page, &|p| {
            !p.ends_with("gone.png")
        });
        let missing = ["../img/gone.png#x", "/img/gone.png"];
        let missing = missing.map(|m| format!("ch/page.html: {m}, not in the built book"));
        assert_eq!(found, missing);
    }

    /// The whole build on a small book: it passes, and fails on bad LaTeX (a
    /// warning mdBook lets through), a broken include, a KaTeX setting
    /// missing, and a CDN stylesheet (a KaTeX value of the wrong type).
    #[test]
    fn the_build_fails_on_bad_latex_includes_settings_and_cdn_links() {
        let dir = tempfile::tempdir().unwrap();
        let (root, book) = (dir.path().to_owned(), dir.path().join("book"));
        std::fs::create_dir_all(root.join("crates")).unwrap();
        std::fs::create_dir_all(book.join("src")).unwrap();
        let summary = "# Summary\n\n- [One](one.md)\n";
        std::fs::write(book.join("src/SUMMARY.md"), summary).unwrap();
        let toml = "[book]\ntitle = \"t\"\n[output.html.playground]\nrunnable = false\n\
                    [preprocessor.katex]\nafter = [\"links\"]\nno-css = true\nthrow-on-error = true\n";
        let write = |page: &str, toml: &str| {
            std::fs::write(book.join("book.toml"), toml).unwrap();
            std::fs::write(book.join("src/one.md"), format!("# One\n\n{page}\n")).unwrap();
        };
        let fails = |page: &str, toml: &str| {
            write(page, toml);
            build(&book, &root).unwrap_err().to_string()
        };
        write("$x^2$", toml);
        let out = build(&book, &root).unwrap();
        let page = std::fs::read_to_string(out.join("one.html")).unwrap();
        assert!(page.contains("katex"));
        // The whole output is scanned: a page that loads a CDN script is found.
        let cdn = r#"<script src="https://cdn.example.com/x.js"></script></head>"#;
        std::fs::write(out.join("one.html"), page.replace("</head>", cdn)).unwrap();
        let found = check_output(&out).unwrap();
        assert_eq!(
            found,
            ["one.html: https://cdn.example.com/x.js from another host"]
        );
        assert!(fails("$\\frac{1}{$", toml).contains("mdBook or KaTeX logged"));
        assert!(fails("{{#include missing.rs}}", toml).contains("1 broken include"));
        let lax = toml.replace("throw-on-error = true", "throw-on-error = false");
        assert!(fails("$x$", &lax).contains("needs throw-on-error = true"));
        let wrong_type = toml.replace("throw-on-error = true", "throw-on-error = 1");
        let err = fails("$x$", &wrong_type);
        assert!(err.contains("needs no-css = true"), "{err}");
    }
}
