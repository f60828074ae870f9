//! A stand-in for the few GitHub REST endpoints the Action's comment step uses, on
//! 127.0.0.1 only, with the request and response shapes of GitHub's documentation
//! (docs.github.com/rest/issues/comments):
//!
//! - `GET /repos/{owner}/{repo}/issues/{number}/comments?per_page=&page=`: 200, an
//!   array of issue comments, a `Link` header (`rel="next"`, `rel="last"`) to further
//!   pages, which GitHub addresses as `/repositories/{id}/issues/{number}/comments`;
//! - `POST /repos/{owner}/{repo}/issues/{number}/comments` with `{"body": …}`: 201 and
//!   the comment, or 422 for a body over 65,536 characters;
//! - `PATCH /repos/{owner}/{repo}/issues/comments/{id}` with `{"body": …}`: 200;
//! - 401 without the token, 403 "Resource not accessible by integration" for a write
//!   with a read-only token (a pull request from a fork), 404 for anything else.
//!
//! It serves one connection at a time, each answered and closed, and stops when
//! dropped, after 500 requests, or after five minutes, whichever comes first.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

pub const OWNER_REPO: &str = "acme/inventory";
pub const REPOSITORY_ID: u64 = 1296269;
pub const PULL_REQUEST: u64 = 7;
pub const TOKEN: &str = "ghs_test-token-0123456789";
/// The author of comments made with a job's `GITHUB_TOKEN`.
pub const ACTIONS_BOT: &str = "github-actions[bot]";
/// GitHub's limit on a comment body, in characters.
pub const BODY_LIMIT: usize = 65_536;

/// An issue comment as the server keeps it.
#[derive(Debug, Clone)]
pub struct Comment {
    pub id: u64,
    pub login: String,
    pub body: String,
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The `body` field of a JSON request.
    pub fn body_field(&self) -> String {
        let value: Value = serde_json::from_slice(&self.body).expect("a JSON request body");
        value["body"].as_str().expect("a body field").to_string()
    }
}

#[derive(Debug)]
pub struct State {
    pub comments: Vec<Comment>,
    pub next_id: u64,
    /// The token can read but not write, as on a pull request from a fork.
    pub read_only: bool,
    /// Answer the listing with this status instead.
    pub list_status: Option<u16>,
    /// Answer the listing 200 with a body that is not JSON (a proxy's error page).
    pub list_garbage: bool,
    /// The most comments on a page, whatever `per_page` asks (to make pages).
    pub page_size: usize,
    pub requests: Vec<Request>,
}

pub struct FakeGitHub {
    addr: SocketAddr,
    pub state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeGitHub {
    pub fn start() -> FakeGitHub {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State {
            comments: Vec::new(),
            next_id: 1_000_001,
            read_only: false,
            list_status: None,
            list_garbage: false,
            page_size: 100,
            requests: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let state = Arc::clone(&state);
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || serve(listener, addr, &state, &stop))
        };
        FakeGitHub {
            addr,
            state,
            stop,
            thread: Some(thread),
        }
    }

    /// What the runner puts in `GITHUB_API_URL`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn add_comment(&self, login: &str, body: &str) -> u64 {
        let mut state = self.state.lock().expect("state");
        let id = state.next_id;
        state.next_id += 1;
        state.comments.push(Comment {
            id,
            login: login.to_string(),
            body: body.to_string(),
        });
        id
    }

    pub fn comments(&self) -> Vec<Comment> {
        self.state.lock().expect("state").comments.clone()
    }

    /// Requests other than reads.
    pub fn writes(&self) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .collect()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state.lock().expect("state").requests.clone()
    }
}

impl Drop for FakeGitHub {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(listener: TcpListener, addr: SocketAddr, state: &Mutex<State>, stop: &AtomicBool) {
    let started = Instant::now();
    let mut served = 0;
    while !stop.load(Ordering::SeqCst)
        && served < 500
        && started.elapsed() < Duration::from_secs(300)
    {
        match listener.accept() {
            Ok((stream, _)) => {
                served += 1;
                // A broken connection is the client's problem, as on GitHub.
                let _ = handle(stream, addr, state);
            }
            Err(err) if err.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
    }
}

fn handle(stream: TcpStream, addr: SocketAddr, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_string();
    let target = parts.next().unwrap_or_default().to_string();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((k, v)) = header.split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let get = |name: &str| {
        headers
            .iter()
            .find(|(k, _): &&(String, String)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let length: usize = get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    // curl asks before sending a large body; answer at once rather than make it wait.
    if get("expect").is_some_and(|v| v.eq_ignore_ascii_case("100-continue")) {
        writer.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    let mut body = vec![0; length.min(1 << 20)];
    reader.read_exact(&mut body)?;
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target.clone(), String::new()),
    };
    let request = Request {
        method,
        path,
        query,
        headers,
        body,
    };
    let response = {
        let mut state = state.lock().expect("state");
        state.requests.push(request.clone());
        route(&request, &mut state, &format!("http://{addr}"))
    };
    let (status, extra_headers, body) = response;
    let mut head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\nX-GitHub-Api-Version-Selected: 2022-11-28\r\n",
        reason(status),
        body.len()
    );
    for (k, v) in extra_headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    writer.write_all(head.as_bytes())?;
    writer.write_all(body.as_bytes())?;
    writer.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        422 => "Unprocessable Entity",
        500 => "Internal Server Error",
        _ => "",
    }
}

/// Status, extra headers, body.
type Response = (u16, Vec<(String, String)>, String);

fn error(status: u16, message: &str, doc: &str) -> Response {
    (
        status,
        Vec::new(),
        json!({
            "message": message,
            "documentation_url": format!("https://docs.github.com/rest/{doc}"),
            "status": status.to_string(),
        })
        .to_string(),
    )
}

fn route(request: &Request, state: &mut State, base: &str) -> Response {
    let auth = request.header("authorization").unwrap_or_default();
    if auth != format!("Bearer {TOKEN}") && auth != format!("token {TOKEN}") {
        return error(
            401,
            "Bad credentials",
            "overview/authenticating-to-the-rest-api",
        );
    }
    let segments: Vec<&str> = request.path.trim_matches('/').split('/').collect();
    let (owner, repo) = OWNER_REPO.split_once('/').expect("owner/repo");
    let number = PULL_REQUEST.to_string();
    let repository_id = REPOSITORY_ID.to_string();
    let list_doc = "issues/comments#list-issue-comments";
    match (request.method.as_str(), segments.as_slice()) {
        ("GET", ["repos", o, r, "issues", n, "comments"])
            if *o == owner && *r == repo && *n == number =>
        {
            list(request, state, base)
        }
        ("GET", ["repositories", id, "issues", n, "comments"])
            if *id == repository_id && *n == number =>
        {
            list(request, state, base)
        }
        ("POST", ["repos", o, r, "issues", n, "comments"])
            if *o == owner && *r == repo && *n == number =>
        {
            if state.read_only {
                return error(
                    403,
                    "Resource not accessible by integration",
                    "issues/comments#create-an-issue-comment",
                );
            }
            let Some(body) = body_of(request) else {
                return error(
                    422,
                    "Invalid request.\n\n\"body\" wasn't supplied.",
                    "issues/comments#create-an-issue-comment",
                );
            };
            if let Some(too_long) = too_long(&body) {
                return too_long;
            }
            let id = state.next_id;
            state.next_id += 1;
            let comment = Comment {
                id,
                login: ACTIONS_BOT.to_string(),
                body,
            };
            let value = comment_json(&comment, base);
            state.comments.push(comment);
            let location = format!("{base}/repos/{OWNER_REPO}/issues/comments/{id}");
            (
                201,
                vec![("Location".to_string(), location)],
                value.to_string(),
            )
        }
        ("PATCH", ["repos", o, r, "issues", "comments", id]) if *o == owner && *r == repo => {
            let Some(index) = state.comments.iter().position(|c| c.id.to_string() == *id) else {
                return error(404, "Not Found", "issues/comments#update-an-issue-comment");
            };
            if state.read_only {
                return error(
                    403,
                    "Resource not accessible by integration",
                    "issues/comments#update-an-issue-comment",
                );
            }
            let Some(body) = body_of(request) else {
                return error(
                    422,
                    "Invalid request.\n\n\"body\" wasn't supplied.",
                    "issues/comments#update-an-issue-comment",
                );
            };
            if let Some(too_long) = too_long(&body) {
                return too_long;
            }
            state.comments[index].body = body;
            (
                200,
                Vec::new(),
                comment_json(&state.comments[index], base).to_string(),
            )
        }
        _ => error(404, "Not Found", list_doc),
    }
}

fn body_of(request: &Request) -> Option<String> {
    let value: Value = serde_json::from_slice(&request.body).ok()?;
    value.get("body")?.as_str().map(str::to_string)
}

fn too_long(body: &str) -> Option<Response> {
    (body.chars().count() > BODY_LIMIT).then(|| {
        (
            422,
            Vec::new(),
            json!({
                "message": "Validation Failed",
                "errors": [{
                    "resource": "IssueComment",
                    "code": "custom",
                    "field": "body",
                    "message": "body is too long (maximum is 65536 characters)"
                }],
                "documentation_url": "https://docs.github.com/rest/issues/comments#create-an-issue-comment",
                "status": "422"
            })
            .to_string(),
        )
    })
}

fn list(request: &Request, state: &State, base: &str) -> Response {
    if state.list_garbage {
        return (200, Vec::new(), "<html>502 Bad Gateway</html>".to_string());
    }
    if let Some(status) = state.list_status {
        return error(
            status,
            "Server Error",
            "issues/comments#list-issue-comments",
        );
    }
    let param = |name: &str| {
        request
            .query
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .find(|(k, _)| *k == name)
            .and_then(|(_, v)| v.parse::<usize>().ok())
    };
    let per_page = param("per_page")
        .unwrap_or(30)
        .clamp(1, 100)
        .min(state.page_size);
    let page = param("page").unwrap_or(1).max(1);
    let pages = state.comments.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = state
        .comments
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|c| comment_json(c, base))
        .collect();
    let mut headers = Vec::new();
    if pages > 1 {
        let link = |p: usize, rel: &str| {
            format!(
                "<{base}/repositories/{REPOSITORY_ID}/issues/{PULL_REQUEST}/comments?per_page={per_page}&page={p}>; rel=\"{rel}\""
            )
        };
        let mut links = Vec::new();
        if page > 1 {
            links.push(link(page - 1, "prev"));
        }
        if page < pages {
            links.push(link(page + 1, "next"));
            links.push(link(pages, "last"));
        }
        if page > 1 {
            links.push(link(1, "first"));
        }
        headers.push(("Link".to_string(), links.join(", ")));
    }
    (200, headers, Value::Array(items).to_string())
}

/// An issue comment, as GitHub's REST API returns it.
fn comment_json(c: &Comment, base: &str) -> Value {
    let bot = c.login.ends_with("[bot]");
    json!({
        "id": c.id,
        "node_id": format!("IC_kwDOAAABc84{:08}", c.id),
        "url": format!("{base}/repos/{OWNER_REPO}/issues/comments/{}", c.id),
        "html_url": format!("https://github.com/{OWNER_REPO}/pull/{PULL_REQUEST}#issuecomment-{}", c.id),
        "body": c.body,
        "user": {
            "login": c.login,
            "id": if bot { 41898282 } else { 583231 },
            "node_id": if bot { "MDM6Qm90NDE4OTgyODI=" } else { "MDQ6VXNlcjU4MzIzMQ==" },
            "avatar_url": "https://avatars.githubusercontent.com/in/15368?v=4",
            "url": format!("{base}/users/{}", c.login),
            "html_url": format!("https://github.com/apps/{}", c.login.trim_end_matches("[bot]")),
            "type": if bot { "Bot" } else { "User" },
            "site_admin": false
        },
        "created_at": "2026-01-02T03:04:05Z",
        "updated_at": "2026-01-02T03:04:05Z",
        "issue_url": format!("{base}/repos/{OWNER_REPO}/issues/{PULL_REQUEST}"),
        "author_association": if bot { "NONE" } else { "CONTRIBUTOR" },
        "performed_via_github_app": null,
        "reactions": {
            "url": format!("{base}/repos/{OWNER_REPO}/issues/comments/{}/reactions", c.id),
            "total_count": 0, "+1": 0, "-1": 0, "laugh": 0, "hooray": 0,
            "confused": 0, "heart": 0, "rocket": 0, "eyes": 0
        }
    })
}
