//! The HTML report in a real browser: headless Chromium loads the demo's page and a page
//! with every section filled. The DOM after the page's script ran (`--dump-dom`) holds
//! each finding, its source and its flow; a screenshot is not blank; the filter box
//! hides and shows cards (typed into through the DevTools protocol); and the page asks
//! the network for nothing (the protocol's network events, with every connection sent
//! to a closed port besides).
//!
//! These tests need Chromium (`.ci/run` installs it): without one they fail, naming the
//! package to install; they are never skipped. `ESCAPE_GATE_BLESS=1` rewrites the README's
//! screenshot of the demo's page, `docs/html-report.png`, and the page it shows,
//! `docs/html-report.html` (see `docs/html-report.sh`).

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::html_report::{full_repo, html_in_actions, section};
use crate::support::{escape_gate, require_go, scratch_dir};

/// The browser's binary: `ESCAPE_GATE_CHROMIUM`, else the first of the usual names on
/// PATH. Panics, saying what to install, when there is none.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("ESCAPE_GATE_CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "the browser tests of the HTML report need Chromium: none of chromium, \
         chromium-browser or google-chrome is on PATH. Install it (`apt-get install chromium`; \
         .ci/run does) or name it in ESCAPE_GATE_CHROMIUM."
    );
}

/// Headless Chromium with a profile of its own, that reaches no network: every
/// connection goes to a closed port, and nothing runs in the background.
fn headless(profile: &Path) -> Command {
    let mut cmd = Command::new(chromium());
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--hide-scrollbars",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        "--force-color-profile=srgb",
    ])
    .arg(format!("--user-data-dir={}", profile.display()))
    // Its temporary files too go where they are removed with the profile.
    .env("TMPDIR", profile)
    .stdin(Stdio::null());
    cmd
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// The DOM after the page's script ran.
fn dump_dom(page: &Path) -> String {
    let profile = scratch_dir("chromium-");
    let out = headless(profile.path())
        .arg("--dump-dom")
        .arg(file_url(page))
        .output()
        .expect("run chromium --dump-dom");
    assert!(out.status.success(), "chromium --dump-dom failed: {out:?}");
    String::from_utf8(out.stdout).expect("the DOM is UTF-8")
}

/// A screenshot of the page's first `width`×`height` pixels, as RGB(A) rows.
fn screenshot(page: &Path, png: &Path, (width, height): (u32, u32)) -> (u32, u32, Vec<u8>, usize) {
    let profile = scratch_dir("chromium-");
    let out = headless(profile.path())
        .arg(format!("--window-size={width},{height}"))
        // Every tile painted before the picture is taken.
        .arg("--run-all-compositor-stages-before-draw")
        .arg("--virtual-time-budget=2000")
        .arg(format!("--screenshot={}", png.display()))
        .arg(file_url(page))
        .output()
        .expect("run chromium --screenshot");
    assert!(
        out.status.success(),
        "chromium --screenshot failed: {out:?}"
    );
    let file = std::fs::File::open(png).expect("the screenshot");
    let mut reader = png::Decoder::new(BufReader::new(file))
        .read_info()
        .expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a buffer size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    pixels.truncate(info.buffer_size());
    let channels = info.color_type.samples();
    assert_eq!(info.bit_depth, png::BitDepth::Eight);
    (info.width, info.height, pixels, channels)
}

/// Asserts the screenshot shows something: its luminance varies, and a good share of
/// its pixels differ from the background.
#[track_caller]
fn assert_not_blank(page: &Path, png: &Path, size: (u32, u32)) {
    let (width, height, pixels, channels) = screenshot(page, png, size);
    assert_eq!((width, height), size);
    let luma: Vec<f64> = pixels
        .chunks(channels)
        .map(|p| 0.299 * f64::from(p[0]) + 0.587 * f64::from(p[1]) + 0.114 * f64::from(p[2]))
        .collect();
    let mean = luma.iter().sum::<f64>() / luma.len() as f64;
    let variance = luma.iter().map(|l| (l - mean).powi(2)).sum::<f64>() / luma.len() as f64;
    let background = luma[luma.len() - 1];
    let drawn = luma
        .iter()
        .filter(|l| (*l - background).abs() > 24.0)
        .count();
    assert!(
        variance > 100.0 && drawn * 100 > luma.len(),
        "the screenshot {} looks blank: luminance variance {variance:.1}, {drawn} of {} pixels drawn",
        png.display(),
        luma.len()
    );
}

/// A browser driven through the DevTools protocol, one page attached.
struct DevTools {
    child: Child,
    socket: tungstenite::WebSocket<TcpStream>,
    session: String,
    next_id: u64,
    /// Every event of the page's session received so far.
    events: Vec<Value>,
    _profile: tempfile::TempDir,
}

impl Drop for DevTools {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl DevTools {
    /// Starts the browser and opens a page with the network and page domains on.
    fn start() -> DevTools {
        let profile = scratch_dir("chromium-");
        let mut child = headless(profile.path())
            .arg("--remote-debugging-port=0")
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        let stderr = child.stderr.take().expect("stderr");
        let mut url = None;
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines() {
            let line = line.expect("chromium's stderr");
            if let Some(at) = line.find("ws://") {
                url = Some(line[at..].trim().to_string());
                break;
            }
            seen.push_str(&line);
            seen.push('\n');
        }
        let url = url.unwrap_or_else(|| panic!("chromium printed no DevTools address:\n{seen}"));
        let host = url
            .trim_start_matches("ws://")
            .split('/')
            .next()
            .expect("host:port")
            .to_string();
        let stream = TcpStream::connect(&host).expect("connect to the DevTools port");
        // A safety net against a browser that stops answering, not a measurement.
        stream
            .set_read_timeout(Some(Duration::from_secs(60)))
            .expect("read timeout");
        let (socket, _) = tungstenite::client(url.as_str(), stream).expect("WebSocket handshake");
        let mut tools = DevTools {
            child,
            socket,
            session: String::new(),
            next_id: 0,
            events: Vec::new(),
            _profile: profile,
        };
        let target = tools.call(None, "Target.createTarget", json!({"url": "about:blank"}));
        let target_id = target["targetId"].as_str().expect("targetId").to_string();
        let attached = tools.call(
            None,
            "Target.attachToTarget",
            json!({"targetId": target_id, "flatten": true}),
        );
        tools.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_string();
        for domain in ["Network.enable", "Page.enable", "Runtime.enable"] {
            tools.page(domain, json!({}));
        }
        tools
    }

    /// Sends a command (to the page's session when `session` is given) and returns its
    /// result, keeping the events that arrive meanwhile.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket
            .send(tungstenite::Message::Text(message.to_string().into()))
            .expect("send to DevTools");
        loop {
            let reply = self.receive();
            if reply["id"] == json!(id) {
                if let Some(error) = reply.get("error") {
                    panic!("{method} failed: {error}");
                }
                return reply["result"].clone();
            }
        }
    }

    fn receive(&mut self) -> Value {
        loop {
            let message = self.socket.read().expect("read from DevTools");
            if let tungstenite::Message::Text(text) = message {
                let value: Value = serde_json::from_str(text.as_str()).expect("DevTools JSON");
                if value.get("method").is_some() {
                    self.events.push(value.clone());
                }
                return value;
            }
        }
    }

    fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params)
    }

    /// Loads `url` and waits for its load event.
    fn navigate(&mut self, url: &str) {
        let seen = self.events.len();
        self.page("Page.navigate", json!({"url": url}));
        while !self.events[seen..]
            .iter()
            .any(|e| e["method"] == "Page.loadEventFired")
        {
            self.receive();
        }
    }

    /// The value of a JavaScript expression in the page.
    fn eval(&mut self, expression: &str) -> Value {
        let result = self.page(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true}),
        );
        assert!(
            result.get("exceptionDetails").is_none(),
            "{expression}: {}",
            result["exceptionDetails"]
        );
        result["result"]["value"].clone()
    }

    /// Types `text` into the focused element as a user would.
    fn type_text(&mut self, text: &str) {
        self.page("Input.insertText", json!({"text": text}));
    }
}

/// What a reader sees of the cards and rows: the ids (or file and function) of those
/// displayed.
const SHOWN: &str = "[...document.querySelectorAll('[data-kind]')].filter(e => e.checkVisibility()).map(e => e.id || (e.dataset.function + ' ' + e.dataset.file))";

fn write_page(dir: &Path, name: &str, html: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, html).expect("write the page");
    path
}

#[test]
fn the_full_page_in_a_browser() {
    let (repo, base, head) = full_repo();
    let run = html_in_actions(&repo, &base, &head);
    run.assert_code(1);
    let dir = scratch_dir("page-");
    let page = write_page(dir.path(), "report.html", &run.stdout);

    let dom = dump_dom(&page);
    // The script ran: the filter is shown and counts what it can filter.
    assert!(
        dom.contains("<div id=\"filter\" class=\"filter\"><label"),
        "the script did not show the filter:\n{dom}"
    );
    assert!(
        dom.contains("<span id=\"shown\" class=\"mute\">4 items</span>"),
        "{dom}"
    );
    // Each finding, its source line and its flow.
    let card = section(&dom, "<article class=\"card\" id=\"n1\"", "</article>");
    for needle in [
        "<code>shop/shop.go:26:2</code>",
        "<code class=\"fn\">Copy</code>",
        "<span class=\"h c\"><i>26</i><b>+</b>\td := c</span>",
        "<code>~r0 ← &amp;d</code>",
        "<code>from &amp;d (address-of)</code>",
        "<mark>changed</mark>",
        "<i>27</i>\treturn &amp;d</span>",
    ] {
        assert!(card.contains(needle), "{needle}:\n{card}");
    }
    let allowed = section(
        &dom,
        "<article class=\"card allowed\" id=\"a1\"",
        "</article>",
    );
    assert!(
        allowed.contains("<i>21</i>\tlast = &amp;c</span>"),
        "{allowed}"
    );
    assert!(
        allowed.contains("<code>{heap} ← &amp;c</code>"),
        "{allowed}"
    );
    for id in ["fixed", "moved", "stale", "expired", "config", "functions"] {
        assert!(dom.contains(&format!("id=\"{id}\"")), "{id}");
    }

    assert_not_blank(&page, &dir.path().join("full.png"), (1100, 1600));

    let mut browser = DevTools::start();
    let url = file_url(&page);
    browser.navigate(&url);
    let all = browser.eval(SHOWN);
    assert_eq!(all, json!(["n1"]), "the other sections start closed");
    // Typing filters: a function name, then a field, then nothing matching, then all.
    browser.eval("document.getElementById('q').focus()");
    browser.type_text("copy");
    assert_eq!(browser.eval(SHOWN), json!(["n1"]));
    assert_eq!(
        browser.eval("document.getElementById('shown').textContent"),
        json!("1 of 4 shown")
    );
    assert_eq!(
        browser.eval("[...document.querySelectorAll('details.fd')].filter(e => !e.hidden).length"),
        json!(1)
    );
    browser.eval("document.getElementById('q').select()");
    browser.type_text("function:remember");
    // The section holding the match opens.
    assert_eq!(browser.eval(SHOWN), json!(["a1"]));
    assert_eq!(
        browser.eval("[...document.querySelectorAll('details.fd')].filter(e => !e.hidden).length"),
        json!(0)
    );
    browser.eval("document.getElementById('q').select()");
    browser.type_text("file:nowhere.go");
    assert_eq!(browser.eval(SHOWN), json!([]));
    browser.eval("document.getElementById('q').select()");
    browser.type_text("kind:moved check:escapes");
    let shown = browser.eval(SHOWN);
    assert_eq!(
        shown,
        json!(["n1", "a1", "Old shop/shop.go", "Kept shop/shop.go"]),
        "every section with a match opens"
    );
    // Deleting the text shows every card again (the sections stay open).
    browser.eval("document.getElementById('q').select()");
    browser.page("Input.dispatchKeyEvent", json!({"type": "keyDown", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8}));
    browser.page("Input.dispatchKeyEvent", json!({"type": "keyUp", "key": "Backspace", "code": "Backspace", "windowsVirtualKeyCode": 8}));
    assert_eq!(
        browser.eval("document.getElementById('q').value"),
        json!("")
    );
    assert_eq!(browser.eval(SHOWN).as_array().map(Vec::len), Some(4));

    // The network: the page itself, read from its file, and nothing else.
    let requests: Vec<String> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.requestWillBeSent")
        .map(|e| {
            e["params"]["request"]["url"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect();
    assert_eq!(requests, [url], "requests other than the page");
    let failed: Vec<&Value> = browser
        .events
        .iter()
        .filter(|e| e["method"] == "Network.loadingFailed")
        .collect();
    assert!(failed.is_empty(), "failed loads: {failed:?}");
}

/// The demo's page, as the README shows it; with `ESCAPE_GATE_BLESS=1`, the README's
/// screenshot and the page it shows are rewritten.
#[test]
fn the_demo_page_in_a_browser() {
    require_go();
    let out = escape_gate()
        .args(["demo", "--format", "html"])
        // As at a desk, also when the tests run in GitHub Actions: no links.
        .env_remove("GITHUB_SERVER_URL")
        .env_remove("GITHUB_REPOSITORY")
        .output()
        .expect("run the demo");
    assert!(out.status.success(), "{out:?}");
    let html = String::from_utf8(out.stdout).expect("UTF-8");
    let dir = scratch_dir("page-");
    let page = write_page(dir.path(), "demo.html", &html);

    let dom = dump_dom(&page);
    let card = section(&dom, "<article class=\"card\" id=\"n1\"", "</article>");
    for needle in [
        "report/report.go:22:2</code>",
        "<code class=\"fn\">Summary</code>",
        "<span class=\"h c\"><i>22</i><b>+</b>\tout := b.String()</span>",
        "<code>{heap} ← &amp;out</code>",
        "<mark>changed</mark>",
        "<i>23</i>\tlastSummary = &amp;out</span>",
    ] {
        assert!(card.contains(needle), "{needle}:\n{card}");
    }
    assert!(
        dom.contains("<span id=\"shown\" class=\"mute\">1 item</span>"),
        "{dom}"
    );

    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let shot = if std::env::var_os("ESCAPE_GATE_BLESS").is_some() {
        std::fs::write(
            docs.join("html-report.html"),
            crate::html_report::normalise_demo_page(&html),
        )
        .expect("write docs/html-report.html");
        docs.join("html-report.png")
    } else {
        dir.path().join("demo.png")
    };
    // The demo's page is about this tall: the README shows all of it.
    assert_not_blank(&page, &shot, (1100, 1120));
}
