//! The WebDriver harness checked on pages of its own (written to a temp dir and opened as
//! `file://`), so that a failure in a test of the service is the service's, not the harness's.

use super::webdriver::{Browser, WINDOW, assert_real_rendering};
use std::path::Path;
use std::time::Duration;

/// A page with a form that echoes what is typed, an element that appears late, and enough
/// color for a screenshot to count as rendered.
const PAGE: &str = r#"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Harness page</title>
<style>
  body { margin: 0; font: 16px sans-serif;
         background: linear-gradient(90deg, #1565c0, #2e7d32 50%, #c62828); color: #fff; }
  main { padding: 2em; }
</style></head>
<body><main>
  <h1 id="heading">Harness <em>page</em></h1>
  <ul><li class="item">one</li><li class="item">two</li><li class="item">three</li></ul>
  <input id="name" value="placeholder">
  <button id="go" onclick="document.getElementById('out').textContent = 'hello ' +
      document.getElementById('name').value">Go</button>
  <p id="out"></p>
  <script>setTimeout(() => { const p = document.createElement('p'); p.id = 'late';
      p.textContent = 'arrived'; document.querySelector('main').append(p); }, 300);</script>
</main></body></html>"#;

/// Writes `html` to `dir/name` and returns its `file://` URL.
fn page(dir: &Path, name: &str, html: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, html).expect("writing the test page");
    format!("file://{}", path.display())
}

#[test]
fn drives_a_page() {
    let dir = tempfile::tempdir().unwrap();
    let url = page(dir.path(), "page.html", PAGE);
    let browser = Browser::start();
    browser.goto(&url);
    assert_eq!(browser.url(), url);
    assert_eq!(browser.title(), "Harness page");
    assert_eq!(browser.text("#heading"), "Harness page");
    assert_eq!(browser.count("li.item"), 3);
    assert_eq!(browser.count("#nothing"), 0);
    browser.fill("#name", "Ada <b>");
    browser.click("#go");
    assert_eq!(browser.text("#out"), "hello Ada <b>");
    browser.wait_for("#late", Duration::from_secs(5));
    assert_eq!(browser.text("#late"), "arrived");
    assert_eq!(browser.execute("return 6 * 7"), serde_json::json!(42));
    let png = browser.screenshot();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "not a PNG");
    let size = browser.execute("return [innerWidth, innerHeight]");
    assert_eq!(
        size,
        serde_json::json!([WINDOW.0, WINDOW.1]),
        "the viewport"
    );
    assert_real_rendering(&png);
}

#[test]
fn a_blank_page_is_not_a_rendering() {
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::start();
    browser.goto(&page(
        dir.path(),
        "blank.html",
        "<!DOCTYPE html><title>blank</title>",
    ));
    let png = browser.screenshot();
    let message = panic_of(|| assert_real_rendering(&png));
    assert!(message.contains("the page did not render"), "{message}");
}

#[test]
fn a_screenshot_of_another_size_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let browser = Browser::start();
    browser.goto(&page(dir.path(), "page.html", PAGE));
    let png = browser.screenshot();
    // The same picture, cropped: a PNG of half the width.
    let half = crop_to_half_width(&png);
    let message = panic_of(|| assert_real_rendering(&half));
    assert!(message.contains("not the window's size"), "{message}");
}

#[test]
fn waiting_for_what_never_comes_names_the_page() {
    let dir = tempfile::tempdir().unwrap();
    let url = page(dir.path(), "page.html", PAGE);
    let browser = Browser::start();
    browser.goto(&url);
    let message = panic_of(|| {
        browser.wait_for("#never", Duration::from_millis(300));
    });
    assert!(message.contains("no element matches `#never`"), "{message}");
    assert!(message.contains(&url), "{message}");
    let message = panic_of(|| {
        browser.text("#never");
    });
    assert!(message.contains("finding `#never`"), "{message}");
    assert!(message.contains("no such element"), "{message}");
}

#[test]
fn a_missing_driver_says_how_to_install_it() {
    let message = panic_of(|| {
        Browser::start_with(Path::new("/nonexistent/chromedriver"), None);
    });
    assert!(message.contains("/nonexistent/chromedriver"), "{message}");
    assert!(message.contains("./scripts/setup-browser.sh"), "{message}");
}

/// `png` re-encoded with its left half only.
fn crop_to_half_width(png: &[u8]) -> Vec<u8> {
    let mut decoder = png::Decoder::new(std::io::Cursor::new(png));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut pixels).unwrap();
    let samples = info.color_type.samples();
    let width = info.width / 2;
    let mut cropped = Vec::new();
    for row in pixels[..info.buffer_size()].chunks_exact(info.line_size) {
        cropped.extend_from_slice(&row[..width as usize * samples]);
    }
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, info.height);
    encoder.set_color(info.color_type);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .unwrap()
        .write_image_data(&cropped)
        .unwrap();
    out
}

#[test]
fn a_missing_browser_says_how_to_install_it() {
    let message = panic_of(|| {
        Browser::start_with(
            Path::new("chromedriver"),
            Some(Path::new("/nonexistent/chromium")),
        );
    });
    assert!(
        message.contains("cannot open a Chromium session"),
        "{message}"
    );
    assert!(message.contains("/nonexistent/chromium"), "{message}");
    assert!(message.contains("./scripts/setup-browser.sh"), "{message}");
}

/// The message `f` panics with.
///
/// # Panics
///
/// If `f` returns.
fn panic_of(f: impl FnOnce()) -> String {
    let failure = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .expect_err("this should have panicked");
    failure
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| failure.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}
