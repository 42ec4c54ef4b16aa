//! The offline check of `cargo xtask book`: after the build, no page may load
//! anything from another host, and every local file a page loads must exist.
//!
//! The book must read fully offline (from `file://`), so a stylesheet, font,
//! script or image fetched from a CDN is a defect even when it "works" on a
//! connected machine. mdBook and mdbook-katex add such links when a setting
//! is off (MathJax, the KaTeX CSS, the playground), so the built output is
//! checked rather than the settings.
//!
//! What counts as loading: `src=`, `srcset=`, `href=` on any element but
//! `<a>` (a stylesheet `<link>`, an icon), `url(...)` and `@import` in HTML
//! and CSS, and `url(...)` / `@import` inside JavaScript strings. An `<a
//! href>` to another site is a link the reader may choose to follow (the
//! MNIST page, the tutorials), not something fetched, so it is allowed.
//! Pages are also checked for local files they load that are not in the
//! output (a figure that was never generated, a stylesheet not copied).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

/// An opening tag with its attributes.
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"<([a-zA-Z][a-zA-Z0-9-]*)(\s[^>]*)?>").expect("valid regex"));
/// One attribute that loads something, with its value.
static LOADING_ATTR: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)(?:^|\s)(src|srcset|href|poster|data|action)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))"#)
        .expect("valid regex")
});
/// `url(...)` and `@import "..."` in CSS, style attributes and scripts.
static CSS_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)url\(\s*['"]?([^'")\s]+)|@import\s+(?:url\()?\s*['"]?([^'")\s;]+)"#)
        .expect("valid regex")
});

/// `<pre class="playground">`: a runnable Rust block.
static PLAYGROUND_CLASS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bclass\s*=\s*["']?[^"'>]*\bplayground\b"#).expect("valid regex")
});
/// What mdBook's page script fetches when a page has a runnable Rust block.
const PLAYGROUND_FETCH: &str =
    "https://play.rust-lang.org/meta/crates (fetched by book.js for a runnable Rust block)";

/// One reference that breaks reading offline.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The built file (relative to the output folder) that holds the reference.
    pub file: PathBuf,
    /// The URL or path as written.
    pub url: String,
    /// True for another host; false for a local file that is missing.
    pub offsite: bool,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.offsite {
            write!(
                f,
                "{}: loads {} from another host",
                self.file.display(),
                self.url
            )
        } else {
            write!(
                f,
                "{}: loads {}, which is not in the built book",
                self.file.display(),
                self.url
            )
        }
    }
}

/// True if `url` points at another host: `http://`, `https://`, or
/// protocol-relative `//host/...`.
fn is_offsite(url: &str) -> bool {
    let u = url.trim().to_ascii_lowercase();
    u.starts_with("http://") || u.starts_with("https://") || u.starts_with("//")
}

/// A local reference worth resolving: relative or root-relative paths, not
/// `data:`, `#fragment`, `mailto:`, `javascript:` or template placeholders.
fn local_path(url: &str) -> Option<&str> {
    let url = url.trim();
    let lower = url.to_ascii_lowercase();
    if url.is_empty()
        || url.starts_with('#')
        || url.contains("{{")
        || url.contains('$')
        || ["data:", "mailto:", "javascript:", "about:", "blob:"]
            .iter()
            .any(|s| lower.starts_with(s))
        || lower.contains("://")
    {
        return None;
    }
    let end = url.find(['?', '#']).unwrap_or(url.len());
    Some(&url[..end]).filter(|p| !p.is_empty())
}

/// The URLs `text` loads. `html` says whether to look at tags as well as
/// `url(...)`/`@import`.
fn loaded_urls(text: &str, html: bool) -> Vec<String> {
    let mut urls = Vec::new();
    if html {
        for tag in TAG.captures_iter(text) {
            let name = tag[1].to_ascii_lowercase();
            let Some(attrs) = tag.get(2) else { continue };
            if name == "pre" && PLAYGROUND_CLASS.is_match(attrs.as_str()) {
                // mdBook's book.js asks the online playground about every such block.
                urls.push(PLAYGROUND_FETCH.to_string());
            }
            for attr in LOADING_ATTR.captures_iter(attrs.as_str()) {
                let key = attr[1].to_ascii_lowercase();
                if name == "a" && key == "href" {
                    continue; // a link to follow, not a fetch
                }
                let value = attr
                    .get(2)
                    .or(attr.get(3))
                    .or(attr.get(4))
                    .map_or("", |m| m.as_str());
                if name == "base" && !is_offsite(value) {
                    // `<base href="/">` (mdBook's 404 page) names no file; a
                    // base on another host would move every load there, so
                    // that one is reported.
                    continue;
                }
                if key == "srcset" {
                    // "a.png 1x, b.png 2x": the URL is the first word of each item.
                    urls.extend(
                        value
                            .split(',')
                            .filter_map(|item| item.split_whitespace().next())
                            .map(str::to_string),
                    );
                } else {
                    urls.push(value.to_string());
                }
            }
        }
    }
    for m in CSS_URL.captures_iter(text) {
        if let Some(u) = m.get(1).or(m.get(2)) {
            urls.push(u.as_str().to_string());
        }
    }
    urls
}

/// Checks one built file's text. `rel` is its path inside the output folder
/// (used to resolve local references and in messages), `exists` answers
/// whether a path inside the output folder is a file.
pub fn check_file(rel: &Path, text: &str, exists: &dyn Fn(&Path) -> bool) -> Vec<Finding> {
    let ext = rel.extension().and_then(|e| e.to_str()).unwrap_or("");
    let html = matches!(ext, "html" | "htm" | "hbs");
    let mut findings = Vec::new();
    for url in loaded_urls(text, html) {
        if is_offsite(&url) {
            findings.push(Finding {
                file: rel.to_path_buf(),
                url,
                offsite: true,
            });
        } else if let Some(path) = local_path(&url).filter(|_| html) {
            // Only pages are checked for missing files: scripts build URLs at
            // run time, and the KaTeX stylesheet names .woff/.ttf fallbacks
            // that are deliberately not shipped (browsers use the .woff2).
            let base = rel.parent().unwrap_or(Path::new(""));
            let target = if let Some(abs) = path.strip_prefix('/') {
                PathBuf::from(abs)
            } else {
                normalize(&base.join(path))
            };
            if !exists(&target) {
                findings.push(Finding {
                    file: rel.to_path_buf(),
                    url,
                    offsite: false,
                });
            }
        }
    }
    findings
}

/// Resolves `.` and `..` without touching the file system.
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

/// Checks every `.html`, `.css` and `.js` file under the output folder `out`.
pub fn check_output(out: &Path) -> anyhow::Result<Vec<Finding>> {
    let mut files = Vec::new();
    collect(out, out, &mut files)?;
    files.sort();
    let exists = |p: &Path| out.join(p).is_file();
    let mut findings = Vec::new();
    for rel in files {
        let full = out.join(&rel);
        let text = std::fs::read(&full)
            .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", full.display()))?;
        findings.extend(check_file(&rel, &String::from_utf8_lossy(&text), &exists));
    }
    Ok(findings)
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry?.path();
        if path.is_dir() {
            collect(root, &path, out)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "html" | "htm" | "css" | "js"))
        {
            out.push(path.strip_prefix(root).unwrap_or(&path).to_path_buf());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none_missing(_: &Path) -> bool {
        true
    }

    fn offsite(rel: &str, text: &str) -> Vec<String> {
        check_file(Path::new(rel), text, &none_missing)
            .into_iter()
            .filter(|f| f.offsite)
            .map(|f| f.url)
            .collect()
    }

    #[test]
    fn cdn_stylesheets_scripts_fonts_and_images_are_found() {
        let page = r#"<html><head>
            <link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/katex@0.16.4/dist/katex.min.css">
            <script async src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.1/MathJax.js"></script>
            <link rel=icon href=//example.org/favicon.png><base href="https://example.net/">
            <style>@import "http://fonts.example.com/css?family=Open+Sans";</style>
            </head><body>
            <img alt="x" SRC='http://example.org/a.png'>
            <img srcset="local.png 1x, https://example.org/b.png 2x">
            <div style="background: url(https://example.org/bg.png)"></div>
            </body></html>"#;
        assert_eq!(
            offsite("ch/page.html", page),
            vec![
                "https://cdn.jsdelivr.net/npm/katex@0.16.4/dist/katex.min.css",
                "https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.1/MathJax.js",
                "//example.org/favicon.png",
                "https://example.net/",
                "http://example.org/a.png",
                "https://example.org/b.png",
                // then url(...) and @import, in the order they appear
                "http://fonts.example.com/css?family=Open+Sans",
                "https://example.org/bg.png",
            ]
        );
    }

    #[test]
    fn links_to_follow_and_local_files_are_fine() {
        let page = r#"<p>See <a href="https://yann.lecun.com/exdb/mnist/">the MNIST page</a>
            and <a class="x" href='http://example.org'>this</a>.</p>
            <link rel="stylesheet" href="../katex/katex.min.css">
            <script src="book.js"></script><img src="img/digits.png" alt="digits">
            <code>let url = "https://example.org/src=x";</code>"#;
        assert_eq!(offsite("ch/page.html", page), Vec::<String>::new());
    }

    #[test]
    fn runnable_rust_blocks_are_found() {
        let page = r#"<pre class="playground"><code class="language-rust">fn main() {}</code></pre>
            <pre><code class="language-rust">let x = 1; // playground</code></pre>"#;
        assert_eq!(offsite("a.html", page), vec![PLAYGROUND_FETCH]);
    }

    #[test]
    fn css_fonts_from_a_cdn_are_found() {
        let css = "@font-face{font-family:K;src:url(fonts/K.woff2) format(\"woff2\")}\
                   @font-face{font-family:L;src:url('https://cdn.example.com/L.woff2')}\
                   @import url(\"//fonts.example.com/x.css\");";
        assert_eq!(
            offsite("katex/katex.min.css", css),
            vec![
                "https://cdn.example.com/L.woff2",
                "//fonts.example.com/x.css"
            ]
        );
    }

    #[test]
    fn missing_local_files_are_reported_with_their_page() {
        let exists = |p: &Path| p == Path::new("img/digits.png") || p == Path::new("book.js");
        let page = r#"<img src="../img/digits.png"><img src="../img/gone.png#x">
            <script src="../book.js?v=1"></script><a href="missing.html">ok, a link</a>
            <img src="data:image/png;base64,AAAA"><base href="/">"#;
        let findings = check_file(Path::new("ch/page.html"), page, &exists);
        assert_eq!(
            findings,
            vec![Finding {
                file: PathBuf::from("ch/page.html"),
                url: "../img/gone.png#x".into(),
                offsite: false
            }]
        );
        assert_eq!(
            findings[0].to_string(),
            "ch/page.html: loads ../img/gone.png#x, which is not in the built book"
        );
    }

    #[test]
    fn scripts_are_checked_for_offsite_urls_only() {
        let js = r#"var a = "url(https://cdn.example.com/x.png)"; var b = "img/" + name + ".png"; // https://github.com/ in a comment"#;
        let findings = check_file(Path::new("book.js"), js, &|_: &Path| false);
        assert_eq!(findings.len(), 1);
        assert!(findings[0].offsite);
        assert_eq!(findings[0].url, "https://cdn.example.com/x.png");
    }

    #[test]
    fn whole_output_folder_is_scanned() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(
            dir.path().join("index.html"),
            r#"<link href="sub/a.css" rel="stylesheet">"#,
        )
        .unwrap();
        std::fs::write(
            dir.path().join("sub/a.css"),
            "body{background:url(https://x.example/a.png)}",
        )
        .unwrap();
        std::fs::write(dir.path().join("notes.txt"), "https://ignored.example").unwrap();
        let findings = check_output(dir.path()).unwrap();
        assert_eq!(findings.len(), 1, "{findings:?}");
        assert_eq!(findings[0].file, Path::new("sub/a.css"));
        assert!(findings[0].offsite);
    }
}
