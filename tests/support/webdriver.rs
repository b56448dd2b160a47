//! A minimal W3C WebDriver client (enough to drive Chromium through chromedriver): sessions,
//! navigation, elements, clicks, file inputs, scripts and screenshots.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// chromedriver as a child process, killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
    _profile: super::servers::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn find(names: &[&str]) -> Option<std::path::PathBuf> {
    let paths = std::env::var_os("PATH")?;
    names.iter().find_map(|name| std::env::split_paths(&paths).map(|p| p.join(name)).find(|p| p.is_file()))
}

/// Starts chromedriver, or `None` (after saying so) when Chromium or chromedriver is absent outside
/// CI; under CI their absence fails.
pub fn chromedriver() -> Option<(Driver, std::path::PathBuf)> {
    let driver = find(&["chromedriver"]);
    let browser = find(&["chromium", "chromium-browser", "google-chrome"]);
    let (Some(driver), Some(browser)) = (driver, browser) else {
        let required =
            std::env::var("CI").is_ok_and(|v| v == "true") || std::env::var_os("STOWAGE_REQUIRE_BROWSER").is_some();
        assert!(!required, "chromium and chromedriver are required here (apt-get install chromium chromium-driver)");
        eprintln!("SKIPPED: chromium or chromedriver is not installed; the browser test did not run");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "chromedriver did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    let profile = super::servers::TempDir::new("chromium-profile");
    Some((Driver { child, url: format!("http://127.0.0.1:{port}"), _profile: profile }, browser))
}

/// A browser session.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    pub async fn start(driver: &Driver, browser: &std::path::Path) -> Session {
        let http = reqwest::Client::new();
        let profile = driver._profile.0.display().to_string();
        let capabilities = json!({
            "capabilities": { "alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": browser.display().to_string(),
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--window-size=1100,900",
                        format!("--user-data-dir={profile}")
                    ]
                }
            }}
        });
        let response = http
            .post(format!("{}/session", driver.url))
            .header("content-type", "application/json")
            .body(capabilities.to_string())
            .send()
            .await
            .expect("new session");
        let response: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("session JSON");
        let id = response["value"]["sessionId"].as_str().unwrap_or_else(|| panic!("no session: {response}")).to_owned();
        Session { http, base: format!("{}/session/{id}", driver.url) }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let request = self.http.request(method, format!("{}{path}", self.base));
        let request = if body.is_null() {
            request
        } else {
            request.header("content-type", "application/json").body(body.to_string())
        };
        let response = request.send().await.expect("webdriver request");
        let response: Value = serde_json::from_slice(&response.bytes().await.expect("body")).expect("webdriver JSON");
        if let Some(error) = response["value"]["error"].as_str() {
            panic!("webdriver {path}: {error}: {}", response["value"]["message"]);
        }
        response["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", json!({ "url": url })).await;
    }

    pub async fn element(&self, css: &str) -> String {
        let found =
            self.call(reqwest::Method::POST, "/element", json!({ "using": "css selector", "value": css })).await;
        found[ELEMENT].as_str().expect("element id").to_owned()
    }

    pub async fn click(&self, css: &str) {
        let id = self.element(css).await;
        self.call(reqwest::Method::POST, &format!("/element/{id}/click"), json!({})).await;
    }

    /// Chooses `path` in a file input.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let id = self.element(css).await;
        // Clear any earlier choice, then set the new one.
        self.call(reqwest::Method::POST, &format!("/element/{id}/clear"), json!({})).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/value"),
            json!({ "text": path.display().to_string() }),
        )
        .await;
    }

    pub async fn script(&self, script: &str) -> Value {
        self.call(reqwest::Method::POST, "/execute/sync", json!({ "script": script, "args": [] })).await
    }

    /// Waits until `script` returns something other than `null`/`false`, and returns it.
    pub async fn wait_for(&self, script: &str, timeout: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.script(script).await;
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(started.elapsed() < timeout, "timed out waiting for: {script}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG screenshot of the page.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call(reqwest::Method::GET, "/screenshot", Value::Null).await;
        decode_base64(encoded.as_str().expect("base64 screenshot"))
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
    }
}

fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter_map(value) {
        acc = (acc << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    out
}
