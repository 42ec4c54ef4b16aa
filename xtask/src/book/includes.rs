//! The include check of `cargo xtask book`: every `{{#include file:anchor}}`
//! (and `{{#rustdoc_include}}`, `{{#playground}}`) in the book's chapters must
//! point at a file that exists, and an anchor must be present, closed and
//! non-empty.
//!
//! mdBook itself includes *nothing*, silently, when an anchor is missing, so a
//! renamed function in a crate would leave a chapter with an empty code block.
//! This check runs before the build and names the chapter, line and anchor.
//! It parses links and anchors the way mdBook 0.5 does (same patterns, same
//! `path:start:end` / `path:anchor` rules), so what passes here is what
//! mdBook will include.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// mdBook's link pattern (`mdbook-driver`, `links.rs`): an escaped link
/// `\{{#...}}`, or `{{#type target props}}`.
static LINK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\\\{\{\#.*\}\}|\{\{\s*\#([a-zA-Z0-9_]+)\s+([^}]+)\}\}").expect("valid regex")
});
/// mdBook's anchor patterns (`take_lines.rs`).
static ANCHOR_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ANCHOR:\s*(?P<name>[\w_-]+)").expect("valid regex"));
static ANCHOR_END: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"ANCHOR_END:\s*(?P<name>[\w_-]+)").expect("valid regex"));

/// One broken include: where it is written, what it says, what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    /// The chapter file (as given to [`check_chapter`] or found by [`check_book`]).
    pub chapter: PathBuf,
    /// 1-based line of the `{{#...}}` in the chapter.
    pub line: usize,
    /// The link text, e.g. `{{#include ../../crates/mnist/src/idx.rs:parse_labels}}`.
    pub link: String,
    /// What is wrong, naming the file and anchor.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.chapter.display(),
            self.line,
            self.link,
            self.what
        )
    }
}

/// What follows the file name in an include, parsed as mdBook does.
#[derive(Debug, Clone, PartialEq)]
enum Selection {
    /// Lines `start..end` (0-based, end exclusive; `None` = open).
    Lines(Option<usize>, Option<usize>),
    /// The lines between `ANCHOR: name` and `ANCHOR_END: name`.
    Anchor(String),
}

/// Splits `file.rs:10:20` / `file.rs:name` / `file.rs` like mdBook's
/// `parse_include_path` and `parse_range_or_anchor`.
fn parse_target(target: &str) -> (&str, Selection) {
    let mut parts = target.splitn(2, ':');
    let path = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    let mut pieces = rest.splitn(3, ':');
    let first = pieces.next();
    let start = match first {
        Some("") | None => None,
        Some(s) => match s.parse::<usize>() {
            Ok(n) => Some(n.saturating_sub(1)),
            Err(_) => return (path, Selection::Anchor(s.to_string())),
        },
    };
    let end = pieces.next().map(str::parse::<usize>);
    let selection = match (start, end) {
        (Some(s), Some(Ok(e))) => Selection::Lines(Some(s), Some(e)),
        (Some(s), Some(Err(_))) => Selection::Lines(Some(s), None),
        (Some(s), None) => Selection::Lines(Some(s), Some(s + 1)),
        (None, Some(Ok(e))) => Selection::Lines(None, Some(e)),
        (None, None) | (None, Some(Err(_))) => Selection::Lines(None, None),
    };
    (path, selection)
}

/// The lines an anchor selects, with marker lines dropped (as mdBook does),
/// or why it selects nothing.
fn anchored_lines<'a>(text: &'a str, anchor: &str) -> Result<Vec<&'a str>, String> {
    let mut inside = false;
    let mut kept = Vec::new();
    for line in text.lines() {
        if inside {
            match ANCHOR_END.captures(line) {
                Some(cap) if &cap["name"] == anchor => return Ok(kept),
                Some(_) => {}
                None if ANCHOR_START.is_match(line) => {}
                None => kept.push(line),
            }
        } else if ANCHOR_START
            .captures(line)
            .is_some_and(|cap| &cap["name"] == anchor)
        {
            inside = true;
        }
    }
    if inside {
        Err(format!(
            "no line `ANCHOR_END: {anchor}` after its `ANCHOR: {anchor}`"
        ))
    } else {
        Err(format!("no line `ANCHOR: {anchor}`"))
    }
}

/// Checks one chapter's text. `chapter` names it in messages; `dir` is the
/// folder its relative include paths start from (the chapter's own folder);
/// included files are named relative to `root` in messages.
pub fn check_chapter(chapter: &Path, dir: &Path, root: &Path, text: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for cap in LINK.captures_iter(text) {
        let (Some(whole), Some(kind), Some(rest)) = (cap.get(0), cap.get(1), cap.get(2)) else {
            continue; // an escaped link: shown as text, not included
        };
        let kind = kind.as_str();
        if !matches!(kind, "include" | "rustdoc_include" | "playground") {
            continue; // {{#title ...}} and the like name no file
        }
        let line = text[..whole.start()].matches('\n').count() + 1;
        let problem = |what: String| Problem {
            chapter: chapter.to_path_buf(),
            line,
            link: whole.as_str().to_string(),
            what,
        };
        let target = rest.as_str().split_whitespace().next().unwrap_or("");
        let (file, selection) = if kind == "playground" {
            (target, Selection::Lines(None, None))
        } else {
            parse_target(target)
        };
        let path = normalize(&dir.join(file));
        let shown = path
            .strip_prefix(normalize(root))
            .unwrap_or(&path)
            .display();
        let content = match std::fs::read_to_string(&path) {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                problems.push(problem(format!("file {shown} does not exist")));
                continue;
            }
            Err(e) => {
                problems.push(problem(format!("cannot read {shown}: {e}")));
                continue;
            }
        };
        let selected: Vec<&str> = match &selection {
            Selection::Anchor(name) => match anchored_lines(&content, name) {
                Ok(lines) => lines,
                Err(why) => {
                    problems.push(problem(format!("anchor `{name}`: {why} in {shown}")));
                    continue;
                }
            },
            Selection::Lines(start, end) => {
                let start = start.unwrap_or(0);
                let end = end.unwrap_or(usize::MAX);
                content
                    .lines()
                    .skip(start)
                    .take(end.saturating_sub(start))
                    .collect()
            }
        };
        if selected.iter().all(|l| l.trim().is_empty()) {
            let what = match &selection {
                Selection::Anchor(name) => format!("anchor `{name}` in {shown} encloses nothing"),
                Selection::Lines(..) => format!("selects no text from {shown}"),
            };
            problems.push(problem(what));
        }
    }
    problems
}

/// Checks every `.md` file under `src_dir`, in a stable order. Chapters are
/// named relative to `shown_from` (the workspace root) in messages.
pub fn check_book(src_dir: &Path, shown_from: &Path) -> anyhow::Result<Vec<Problem>> {
    let mut chapters = Vec::new();
    collect_markdown(src_dir, &mut chapters)?;
    chapters.sort();
    let mut problems = Vec::new();
    for chapter in chapters {
        let text = std::fs::read_to_string(&chapter)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", chapter.display()))?;
        let dir = chapter.parent().unwrap_or(src_dir);
        let shown = chapter.strip_prefix(shown_from).unwrap_or(&chapter);
        problems.extend(check_chapter(shown, dir, shown_from, &text));
    }
    Ok(problems)
}

/// Resolves `.` and `..` without touching the file system, so messages show
/// `crates/mnist/src/idx.rs` rather than `book/src/../../crates/...`.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn collect_markdown(dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect_markdown(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOURCE: &str = "\
//! a crate
// ANCHOR: forward
pub fn forward(x: f64) -> f64 {
    // ANCHOR: inner
    x * 2.0
    // ANCHOR_END: inner
}
// ANCHOR_END: forward
// ANCHOR: empty
// ANCHOR_END: empty
// ANCHOR: unclosed
fn tail() {}
";

    /// A folder with `src/lib.rs` = SOURCE and a chapter file beside it.
    fn check(chapter_text: &str) -> Vec<Problem> {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/lib.rs"), SOURCE).unwrap();
        check_chapter(
            Path::new("chapter.md"),
            dir.path(),
            dir.path(),
            chapter_text,
        )
    }

    #[test]
    fn good_includes_pass() {
        let text = "# Title\n\
            ```rust\n{{#include src/lib.rs:forward}}\n```\n\
            {{#include src/lib.rs:inner}} and {{#rustdoc_include src/lib.rs:forward}}\n\
            {{#include src/lib.rs}} {{#include src/lib.rs:3}} {{#include src/lib.rs:2:4}} \
            {{#include src/lib.rs::3}} {{#include src/lib.rs:3:}} {{#playground src/lib.rs editable}}\n\
            {{#title Any title}}";
        assert_eq!(check(text), vec![]);
    }

    #[test]
    fn a_broken_anchor_fails_naming_chapter_line_and_anchor() {
        let problems = check("intro\n\n```rust\n{{#include src/lib.rs:fowrard}}\n```\n");
        assert_eq!(problems.len(), 1, "{problems:?}");
        let p = &problems[0];
        assert_eq!((p.chapter.as_path(), p.line), (Path::new("chapter.md"), 4));
        assert_eq!(p.link, "{{#include src/lib.rs:fowrard}}");
        let message = p.to_string();
        assert!(message.starts_with("chapter.md:4: "), "{message}");
        assert!(message.contains("no line `ANCHOR: fowrard`"), "{message}");
        assert!(message.ends_with("in src/lib.rs"), "{message}");
    }

    #[test]
    fn empty_unclosed_and_missing_files_fail() {
        let problems = check(
            "{{#include src/lib.rs:empty}}\n\
             {{#rustdoc_include src/lib.rs:unclosed}}\n\
             {{#include src/nope.rs:forward}}\n\
             {{#include src/lib.rs:500:600}}\n\
             {{#playground src/gone.rs}}\n",
        );
        let whats: Vec<(usize, &str)> =
            problems.iter().map(|p| (p.line, p.what.as_str())).collect();
        assert_eq!(whats.len(), 5, "{whats:?}");
        assert!(whats[0].1.contains("anchor `empty`") && whats[0].1.contains("encloses nothing"));
        assert!(whats[1].1.contains("no line `ANCHOR_END: unclosed`"));
        assert!(whats[2].1.contains("nope.rs does not exist"));
        assert!(whats[3].1.contains("selects no text"));
        assert!(whats[4].1.contains("gone.rs does not exist"));
        assert_eq!(
            whats.iter().map(|w| w.0).collect::<Vec<_>>(),
            vec![1, 2, 3, 4, 5]
        );
    }

    #[test]
    fn escaped_links_are_text_not_includes() {
        assert_eq!(
            check(r"write \{{#include src/missing.rs:x}} to include"),
            vec![]
        );
    }

    #[test]
    fn anchor_names_must_match_exactly() {
        // `ANCHOR: forward_pass` must not satisfy an include of `forward`.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("a.rs"),
            "// ANCHOR: forward_pass\nfn f() {}\n// ANCHOR_END: forward_pass\n",
        )
        .unwrap();
        let problems = check_chapter(
            Path::new("c.md"),
            dir.path(),
            dir.path(),
            "{{#include a.rs:forward}}",
        );
        assert_eq!(problems.len(), 1);
        assert!(problems[0].what.contains("no line `ANCHOR: forward`"));
    }

    #[test]
    fn parse_target_matches_mdbook_rules() {
        assert_eq!(parse_target("f.rs"), ("f.rs", Selection::Lines(None, None)));
        assert_eq!(
            parse_target("f.rs:3"),
            ("f.rs", Selection::Lines(Some(2), Some(3)))
        );
        assert_eq!(
            parse_target("f.rs:3:5"),
            ("f.rs", Selection::Lines(Some(2), Some(5)))
        );
        assert_eq!(
            parse_target("f.rs::5"),
            ("f.rs", Selection::Lines(None, Some(5)))
        );
        assert_eq!(
            parse_target("f.rs:3:"),
            ("f.rs", Selection::Lines(Some(2), None))
        );
        assert_eq!(
            parse_target("f.rs:grad_w"),
            ("f.rs", Selection::Anchor("grad_w".into()))
        );
    }

    /// The real book: every include of every chapter resolves. This is the
    /// check that stops a renamed anchor in a crate from landing.
    #[test]
    fn the_real_book_has_no_broken_include() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let problems = check_book(&root.join("book/src"), &root).unwrap();
        let listed: Vec<String> = problems.iter().map(Problem::to_string).collect();
        assert!(
            problems.is_empty(),
            "broken includes:\n{}",
            listed.join("\n")
        );
    }
}
