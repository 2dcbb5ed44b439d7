//! A minimal W3C WebDriver client for headless Chromium, for tests of the web pages: starts
//! `chromedriver` (installed by `./scripts/setup-browser.sh`), opens one browser session, and
//! drives it: go to a URL, read and fill elements, click, take screenshots.
//!
//! Every call panics with what it tried, where, and the driver's answer: these are test
//! helpers. The driver process is killed (by its pid) when the [`Browser`] is dropped, after
//! the session is closed, which quits Chromium.
//!
//! Self-contained (ureq, serde_json, png, tempfile), so that the pages' unit tests in the
//! `sandmill` binary can use it too (`service/ui/mod.rs` includes this file).

use serde_json::{Value, json};
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The size of the browser's viewport in pixels, `(width, height)`: what a screenshot
/// measures.
pub const WINDOW: (u32, u32) = (1280, 900);

/// The WebDriver name of an element reference in the driver's answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// The command that installs the driver, for the message when it is missing.
const SETUP: &str = "./scripts/setup-browser.sh";

/// A headless Chromium, driven over WebDriver by the `chromedriver` child process this owns.
pub struct Browser {
    /// The `chromedriver` process; killed on drop.
    driver: Child,
    /// `http://127.0.0.1:PORT/session/ID`: where this session's commands go.
    session: String,
    /// Talks to the driver: no proxy (it is on localhost), driver errors read as answers.
    agent: ureq::Agent,
    /// The driver's log file, shown when it fails to start.
    log: tempfile::NamedTempFile,
}

impl Browser {
    /// Starts `chromedriver` (from `PATH`) on a free port and opens a headless Chromium
    /// session. `SANDMILL_CHROMIUM`, if set, names the browser binary the driver runs.
    ///
    /// # Panics
    ///
    /// If `chromedriver` is not installed (the message says to run
    /// `./scripts/setup-browser.sh`), or it or Chromium does not start.
    pub fn start() -> Browser {
        let chromium = std::env::var_os("SANDMILL_CHROMIUM").map(std::path::PathBuf::from);
        Browser::start_with(Path::new("chromedriver"), chromium.as_deref())
    }

    /// [`Browser::start`] with the WebDriver server `driver` (a path, or a name on `PATH`) and
    /// the browser binary `chromium` (by default the one the driver finds).
    pub fn start_with(driver: &Path, chromium: Option<&Path>) -> Browser {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("creating the chromedriver log file");
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): the browser tests need Chromium and its driver; \
                     install them with {SETUP}",
                    driver.display()
                )
            });
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(Duration::from_secs(60)))
            .build()
            .into();
        let mut browser = Browser {
            driver,
            session: format!("http://127.0.0.1:{port}"),
            agent,
            log,
        };
        browser.wait_until_ready();
        let mut options = json!({
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                format!("--window-size={},{}", WINDOW.0, WINDOW.1),
            ]
        });
        if let Some(binary) = chromium {
            options["binary"] = json!(binary);
        }
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": { "browserName": "chrome", "goog:chromeOptions": options }
            }
        });
        let created = browser
            .request("POST", "/session", Some(capabilities))
            .unwrap_or_else(|e| {
                panic!(
                    "WebDriver: cannot open a Chromium session: {e}\nInstall Chromium with \
                     {SETUP} (or set SANDMILL_CHROMIUM to its binary)"
                )
            });
        let id = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver: no sessionId in {created}"));
        browser.session = format!("{}/session/{id}", browser.session);
        browser.fit_viewport();
        browser
    }

    /// Sizes the window so that the page's viewport (what a screenshot shows) is [`WINDOW`]:
    /// `--window-size` sets the outer size, and headless Chromium keeps room for toolbars.
    fn fit_viewport(&self) {
        let [inner_w, inner_h, outer_w, outer_h] = self.window_sizes();
        let rect = json!({
            "width": WINDOW.0 + outer_w - inner_w,
            "height": WINDOW.1 + outer_h - inner_h,
        });
        self.command("POST", "/window/rect", Some(rect), "sizing the window");
        let [inner_w, inner_h, ..] = self.window_sizes();
        assert_eq!(
            (inner_w, inner_h),
            WINDOW,
            "WebDriver: the viewport is not the size asked for"
        );
    }

    /// The page's inner (viewport) and outer (window) width and height.
    fn window_sizes(&self) -> [u32; 4] {
        let sizes = self.execute("return [innerWidth, innerHeight, outerWidth, outerHeight]");
        [0, 1, 2, 3].map(|i| {
            sizes[i]
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or_else(|| panic!("WebDriver: window sizes {sizes}"))
        })
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    pub fn execute(&self, script: &str) -> Value {
        let body = json!({ "script": script, "args": [] });
        self.command(
            "POST",
            "/execute/sync",
            Some(body),
            &format!("running `{script}`"),
        )
    }

    /// Polls the driver's `/status` until it is ready (10 s at most).
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!(
                    "chromedriver exited at start ({status}); its log:\n{}",
                    self.log_text()
                );
            }
            let url = format!("{}/status", self.session);
            if let Ok(mut answer) = self.agent.get(&url).call()
                && let Ok(status) = answer.body_mut().read_json::<Value>()
                && status["value"]["ready"] == json!(true)
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer on {url} within 10 s; its log:\n{}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Opens `url` and waits until it has loaded.
    pub fn goto(&self, url: &str) {
        self.command(
            "POST",
            "/url",
            Some(json!({ "url": url })),
            &format!("opening {url}"),
        );
    }

    /// The page's `<title>`.
    pub fn title(&self) -> String {
        let title = self.command("GET", "/title", None, "reading the title");
        title.as_str().unwrap_or_default().to_owned()
    }

    /// The page's URL now (after redirects).
    pub fn url(&self) -> String {
        let url = self.command("GET", "/url", None, "reading the URL");
        url.as_str().unwrap_or_default().to_owned()
    }

    /// The rendered text of the first element matching `css`.
    pub fn text(&self, css: &str) -> String {
        let id = self.element(css);
        let text = self.command(
            "GET",
            &format!("/element/{id}/text"),
            None,
            &format!("reading `{css}`"),
        );
        text.as_str().unwrap_or_default().to_owned()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        let found = self.command(
            "POST",
            "/elements",
            Some(locator(css)),
            &format!("finding `{css}`"),
        );
        found.as_array().map_or(0, Vec::len)
    }

    /// Clears the first element matching `css` (an input) and types `text` into it.
    pub fn fill(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/clear"),
            Some(json!({})),
            &format!("clearing `{css}`"),
        );
        self.command(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
            &format!("typing into `{css}`"),
        );
    }

    /// Clicks the first element matching `css`. A page the click opens may still be loading
    /// when this returns: [`Browser::wait_for`] what it shows.
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("/element/{id}/click"),
            Some(json!({})),
            &format!("clicking `{css}`"),
        );
    }

    /// A PNG of the viewport as it is now (see [`assert_real_rendering`]). With
    /// `SANDMILL_SCREENSHOTS=DIR` set, a copy is saved there too, named after the page's URL,
    /// to look at.
    pub fn screenshot(&self) -> Vec<u8> {
        let png = self.command("GET", "/screenshot", None, "taking a screenshot");
        let png = base64_decode(png.as_str().unwrap_or_default())
            .unwrap_or_else(|| panic!("WebDriver: the screenshot is not base64"));
        if let Some(dir) = std::env::var_os("SANDMILL_SCREENSHOTS") {
            let name: String = (self.url().chars())
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect();
            let path = Path::new(&dir).join(format!("{name}.png"));
            std::fs::create_dir_all(&dir)
                .and_then(|()| std::fs::write(&path, &png))
                .unwrap_or_else(|e| panic!("saving the screenshot {}: {e}", path.display()));
        }
        png
    }

    /// Waits until an element matches `css`, polling every 100 ms.
    ///
    /// # Panics
    ///
    /// After `timeout` without one, naming the page it was on.
    pub fn wait_for(&self, css: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        while self.count(css) == 0 {
            assert!(
                Instant::now() < deadline,
                "no element matches `{css}` after {timeout:?} on {} ({:?})",
                self.url(),
                self.title()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The WebDriver id of the first element matching `css`.
    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "/element",
            Some(locator(css)),
            &format!("finding `{css}`"),
        );
        found[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("WebDriver: finding `{css}` answered {found}"))
            .to_owned()
    }

    /// Sends a command (`path` is relative to the session) and returns its answer's `value`.
    ///
    /// # Panics
    ///
    /// If the driver answers an error: `what` failed, on which page, and the driver's words.
    fn command(&self, method: &str, path: &str, body: Option<Value>, what: &str) -> Value {
        self.request(method, path, body).unwrap_or_else(|error| {
            // The page it happened on, when there is a session to ask (and asking can work).
            let page = match self.request("GET", "/url", None) {
                Ok(Value::String(url)) if path != "/url" => format!(" on {url}"),
                _ => String::new(),
            };
            panic!("WebDriver: {what}{page}: {error}")
        })
    }

    /// Sends a command and returns its answer's `value`, or the error the driver answered.
    fn request(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let url = format!("{}{path}", self.session);
        let answer = match method {
            "GET" => self.agent.get(&url).call(),
            _ => self.agent.post(&url).send_json(body.unwrap_or(json!({}))),
        };
        let mut answer = answer.map_err(|e| {
            format!(
                "{method} {url} failed: {e}; the driver's log:\n{}",
                self.log_text()
            )
        })?;
        let status = answer.status();
        let mut text = String::new();
        let _ = answer.body_mut().as_reader().read_to_string(&mut text);
        let value = serde_json::from_str::<Value>(&text)
            .map(|mut v| v["value"].take())
            .unwrap_or(Value::Null);
        if status.is_success() {
            Ok(value)
        } else {
            Err(format!(
                "{} ({status}): {}",
                value["error"].as_str().unwrap_or("error"),
                value["message"].as_str().unwrap_or(&text)
            ))
        }
    }

    /// The driver's log so far.
    fn log_text(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Closing the session quits Chromium; then the driver is killed by its pid.
        if self.session.contains("/session/") {
            let _ = self.agent.delete(&self.session).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// A CSS selector as a WebDriver locator.
fn locator(css: &str) -> Value {
    json!({ "using": "css selector", "value": css })
}

/// A TCP port no one listens on now (the OS picks it; it is free again once we close it).
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("binding a local port");
    listener.local_addr().expect("the bound port").port()
}

/// Checks that `png` is a screenshot of a page that really rendered: the window's size
/// ([`WINDOW`]), at least 16 distinct colors, and no color on more than 95 % of it (a blank,
/// white or error page fails).
///
/// # Panics
///
/// If it is not a PNG, or fails one of those checks.
pub fn assert_real_rendering(png: &[u8]) {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("the screenshot is a PNG");
    let mut pixels = vec![
        0;
        reader
            .output_buffer_size()
            .expect("a screenshot fits in memory")
    ];
    let info = reader
        .next_frame(&mut pixels)
        .expect("decoding the screenshot");
    assert_eq!(
        (info.width, info.height),
        WINDOW,
        "the screenshot is not the window's size"
    );
    let samples = info.color_type.samples();
    let mut counts = std::collections::HashMap::<&[u8], usize>::new();
    for pixel in pixels[..info.buffer_size()].chunks_exact(samples) {
        *counts.entry(pixel).or_default() += 1;
    }
    let total = (info.width * info.height) as usize;
    let (color, most) = counts.iter().max_by_key(|(_, n)| **n).expect("pixels");
    assert!(
        counts.len() >= 16,
        "the screenshot has only {} colors: the page did not render",
        counts.len()
    );
    assert!(
        *most * 100 <= total * 95,
        "{:.1} % of the screenshot is one color ({color:?}): the page is blank",
        *most as f64 * 100.0 / total as f64
    );
}

/// Standard base64 (with `=` padding, as WebDriver sends screenshots) to bytes; `None` if it
/// is not base64.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let digit = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut n = 0;
        for (i, &c) in chunk.iter().enumerate() {
            n |= digit(c)? << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}
