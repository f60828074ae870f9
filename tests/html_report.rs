//! `--format html` on real comparisons (real git, real `go`), read as text: every
//! section filled, the head's source and flow on the card, links only when the
//! repository's address is known, and repository text escaped. What a browser makes of
//! the page is `tests/browser.rs`.

use std::path::Path;

use crate::support::{escape_gate, require_go, Run, TestRepo};

const BASE_GO: &str = "package shop

// Cart holds items.
type Cart struct{ items []string }

var last *Cart

var sink *int

// Add appends an item.
func (c *Cart) Add(item string) { c.items = append(c.items, item) }

// Old leaks a counter; the head drops it.
func Old(a int) {
\tn := a
\tsink = &n
}

// Keep stores a.
func Keep(a int) {
\ty := a
\tsink = &y
}
";

/// `Old` gone (fixed), `Keep` renamed `Kept` (moved, by its line), `Remember` new and
/// allowed, `Copy` new.
const HEAD_GO: &str = "package shop

// Cart holds items.
type Cart struct{ items []string }

var last *Cart

var sink *int

// Add appends an item.
func (c *Cart) Add(item string) { c.items = append(c.items, item) }

// Kept stores a.
func Kept(a int) {
\ty := a
\tsink = &y
}

// Remember keeps a copy of the cart.
func Remember(c Cart) {
\tlast = &c
}

// Copy returns a copy on the heap.
func Copy(c Cart) *Cart {
\td := c
\treturn &d
}
";

const HEAD_CONFIG: &str = "version: 1
allow:
  - path: \"shop/*.go\"
    function: Remember
    reason: \"kept for the audit log\"
    expires: 2099-12-31
  - path: \"gone/*.go\"
    reason: \"no longer needed\"
  - path: \"old/*.go\"
    reason: \"a release ago\"
    expires: 2020-01-01
";

/// A comparison with every section of the page filled: new (with a flow through
/// changed lines), allowed (with reason and expiry), fixed, moved, stale and expired
/// entries, and the allowlist the head adds.
pub fn full_repo() -> (TestRepo, String, String) {
    let repo = TestRepo::go_module(&[("shop/shop.go", BASE_GO)]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write("shop/shop.go", HEAD_GO);
    repo.write(".escape-gate.yml", HEAD_CONFIG);
    let head = repo.commit("head");
    (repo, base, head)
}

/// `diff --format html` as GitHub Actions runs it, with the repository's address.
pub fn html_in_actions(repo: &TestRepo, base: &str, head: &str) -> Run {
    repo.run_with(
        &["diff", "--format", "html", "--show-fixed", base, head],
        |cmd| {
            cmd.env("GITHUB_SERVER_URL", "https://github.com")
                .env("GITHUB_REPOSITORY", "acme/shop");
        },
    )
}

#[test]
fn every_section_of_a_real_comparison() {
    let (repo, base, head) = full_repo();
    let run = html_in_actions(&repo, &base, &head);
    run.assert_code(1);
    let page = &run.stdout;
    assert!(page.starts_with("<!DOCTYPE html>\n"), "{page}");
    assert!(page.ends_with("</html>\n"));

    // The verdict and summary line, as the text report has them.
    let text = repo.run(&["diff", &base, &head]);
    let verdict = text.stdout.lines().next().expect("verdict");
    let verdict = verdict.strip_prefix("error: ").expect("error:");
    assert!(
        page.contains(&format!(
            "<span class=\"badge\">error</span> {verdict}</h1>"
        )),
        "{page}"
    );
    let summary = text
        .stdout
        .lines()
        .find(|l| l.starts_with("1 new, "))
        .expect("summary line");
    assert!(
        page.contains(&format!("<p class=\"summary\">{summary}</p>")),
        "{summary}\n{page}"
    );
    assert!(page.contains(&format!("<code>{head}</code>")));
    assert!(
        page.contains("<dt>checks</dt><dd>escapes, variable-make, gcassert</dd>"),
        "{page}"
    );

    // The new escape: linked card, the source around it, its flow through the
    // changed line.
    let card = section(page, "<article class=\"card\" id=\"n1\"", "</article>");
    assert!(card.contains(&format!("href=\"https://github.com/acme/shop/blob/{head}/shop/shop.go#L26\"><code>shop/shop.go:26:2</code></a> in <code class=\"fn\">Copy</code>")), "{card}");
    assert!(card.contains("<p class=\"msg\"><code>moved to heap: d</code></p>"));
    assert!(
        card.contains("<span class=\"h c\"><i>26</i><b>+</b>\td := c</span>"),
        "{card}"
    );
    assert!(
        card.contains("<i>24</i><b>+</b>// Copy returns a copy on the heap.</span>"),
        "{card}"
    );
    assert!(
        card.contains(
            "<li class=\"fl\"><span class=\"lab\">flow</span> <code>~r0 ← &amp;d</code></li>"
        ),
        "{card}"
    );
    assert!(card.contains("<li class=\"st c\"><code>from &amp;d (address-of)</code> <span class=\"at\">at line 27</span> <mark>changed</mark><pre class=\"src one\"><span><i>27</i>\treturn &amp;d</span></pre></li>"), "{card}");

    // Per function, base → head.
    let functions = section(page, "<section id=\"functions\">", "</section>");
    assert!(functions.contains("<code>Copy</code> <span class=\"pkg\">example.com/m/shop</span>"));
    assert!(
        functions.contains("<span class=\"add\">+ moved to heap: d</span>"),
        "{functions}"
    );

    // Allowed with its reason and expiry, fixed, moved and by which rule, stale and
    // expired entries: each collapsible.
    let allowed = section(page, "<details id=\"allowed\" class=\"sec\">", "</details>");
    assert!(allowed.contains("<code class=\"fn\">Remember</code>"));
    assert!(
        allowed.contains("kept for the audit log <span class=\"exp\">expires 2099-12-31</span>"),
        "{allowed}"
    );
    assert!(
        allowed.contains("<li class=\"fl\">"),
        "an allowed escape has its flow too"
    );
    let fixed = section(page, "<details id=\"fixed\" class=\"sec\">", "</details>");
    assert!(
        fixed.contains(&format!(
            "href=\"https://github.com/acme/shop/blob/{base}/shop/shop.go#L15\""
        )),
        "{fixed}"
    );
    assert!(fixed.contains("<code>moved to heap: n</code>"));
    let moved = section(page, "<details id=\"moved\" class=\"sec\">", "</details>");
    assert!(
        moved.contains("<code>Keep</code></td><td class=\"arrow\">→</td>"),
        "{moved}"
    );
    assert!(moved.contains("<code>Kept</code>"));
    assert!(
        moved.contains("the same line, in a renamed function"),
        "{moved}"
    );
    let stale = section(page, "<details id=\"stale\" class=\"sec\">", "</details>");
    assert!(stale.contains("path &quot;gone/*.go&quot;"), "{stale}");
    let expired = section(page, "<details id=\"expired\" class=\"sec\">", "</details>");
    assert!(expired.contains("expired on 2020-01-01"), "{expired}");

    // The head's allowlist is a change of the rules, said first.
    let config = section(page, "<section id=\"config\"", "</section>");
    assert!(
        config.contains("allowlist entry added at .escape-gate.yml:3"),
        "{config}"
    );
    assert!(page.find("id=\"config\"") < page.find("id=\"new\""));

    // Self-contained: nothing refers to anything but the repository's links.
    for needle in ["src=", "<link", "@import", "url(", "http://"] {
        assert!(!page.contains(needle), "{needle}");
    }
    let links: Vec<&str> = page
        .match_indices("href=\"")
        .map(|(i, _)| &page[i + 6..])
        .collect();
    for link in links {
        assert!(
            link.starts_with('#') || link.starts_with("https://github.com/acme/shop/"),
            "{}",
            &link[..link.len().min(80)]
        );
    }
}

#[test]
fn no_links_without_the_repository_address() {
    let (repo, base, head) = full_repo();
    let run = repo.run(&["diff", "--format", "html", &base, &head]);
    run.assert_code(1);
    assert!(!run.stdout.contains("href=\"http"), "{}", run.stdout);
    assert!(run
        .stdout
        .contains("<code class=\"pos\">shop/shop.go:26:2</code>"));
    // A working-tree head has no commit to link to, even in Actions.
    let clean = repo.run_with(&["diff", "--format", "html", &head], |cmd| {
        cmd.env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_REPOSITORY", "acme/shop");
    });
    clean.assert_code(0);
    assert!(clean.stdout.contains("<body class=\"ok\">"));
    assert!(!clean.stdout.contains("/blob/"), "{}", clean.stdout);
}

/// A file name with `<`, `&` and quotes, source and allowlist text with a script: all
/// text on the page, the file's link percent-encoded.
#[test]
fn repository_text_is_escaped() {
    let evil_file = "h<i>&'\".go";
    let repo = TestRepo::go_module(&[("a.go", "package m\n\nfunc A() int { return 1 }\n")]);
    let base = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    repo.write(
        evil_file,
        "package m\n\nvar sink *string\n\n// Keep keeps \"</script><script>alert('x')</script>\".\nfunc Keep() {\n\ts := \"<script>alert('x')</script> & \\\"\"\n\tsink = &s\n}\n",
    );
    repo.write(
        ".escape-gate.yml",
        "version: 1\nallow:\n  - path: \"nowhere/*.go\"\n    reason: \"<script>alert('reason')</script> & \\\"q\\\"\"\n",
    );
    let head = repo.commit("head");
    let run = html_in_actions(&repo, &base, &head);
    run.assert_code(1);
    let page = &run.stdout;
    assert_eq!(
        page.matches("<script").count(),
        1,
        "only the page's own script:\n{page}"
    );
    assert!(!page.contains("<i>&'"), "{page}");
    assert!(page.contains(&format!(
        "href=\"https://github.com/acme/shop/blob/{head}/h%3Ci%3E%26%27%22.go#L7\"><code>h&lt;i&gt;&amp;&#39;&quot;.go:7:2</code></a>"
    )), "{page}");
    assert!(page.contains("<i>7</i><b>+</b>\ts := &quot;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; \\&quot;&quot;</span>"), "{page}");
    assert!(
        page.contains("&lt;script&gt;alert(&#39;reason&#39;)&lt;/script&gt; &amp; "),
        "{page}"
    );
    assert!(page.contains("data-file=\"h&lt;i&gt;&amp;&#39;&quot;.go\""));
}

/// The text between `start` and the next `end` after it.
#[track_caller]
pub fn section<'a>(page: &'a str, start: &str, end: &str) -> &'a str {
    let from = page
        .find(start)
        .unwrap_or_else(|| panic!("no {start:?} in the page:\n{page}"));
    let to = page[from..]
        .find(end)
        .map_or(page.len(), |i| from + i + end.len());
    &page[from..to]
}

/// The demo's page without what depends on the machine or the release: the Go version
/// and target, and escape-gate's version.
pub fn normalise_demo_page(html: &str) -> String {
    let out = std::process::Command::new("go")
        .args(["env", "GOVERSION", "GOOS", "GOARCH"])
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("go env");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let go: Vec<&str> = text.lines().collect();
    html.replace(
        &format!("{} {}/{}", go[0], go[1], go[2]),
        "GO_VERSION GOOS/GOARCH",
    )
    .replace(
        &format!("escape-gate {}", env!("CARGO_PKG_VERSION")),
        "escape-gate VERSION",
    )
}

/// The README's screenshot (`docs/html-report.png`) shows the demo's page as
/// `docs/html-report.html` has it: when the page changes, the screenshot must be made
/// again, with `docs/html-report.sh`, which rewrites both.
#[test]
fn the_readme_screenshot_shows_the_current_demo_page() {
    require_go();
    let out = escape_gate()
        .args(["demo", "--format", "html"])
        // As at a desk, also when the tests run in GitHub Actions: no links.
        .env_remove("GITHUB_SERVER_URL")
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .expect("run the demo");
    assert!(out.status.success(), "{out:?}");
    let page = normalise_demo_page(&String::from_utf8(out.stdout).expect("UTF-8"));
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let shown = std::fs::read_to_string(docs.join("html-report.html")).unwrap_or_default();
    assert!(
        docs.join("html-report.png").is_file(),
        "docs/html-report.png is missing; make it with docs/html-report.sh"
    );
    if shown != page {
        let diff = similar::TextDiff::from_lines(&shown, &page)
            .unified_diff()
            .header("docs/html-report.html", "the demo's page now")
            .to_string();
        panic!(
            "the demo's HTML page changed since the README's screenshot was made; run \
             docs/html-report.sh (it needs Chromium) and commit docs/html-report.png and \
             docs/html-report.html:\n{diff}"
        );
    }
}
