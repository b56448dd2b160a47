//! Headless Chromium for the browser tests: chromedriver as a child process, driven through
//! fantoccini (a maintained WebDriver client), plus Chromium's DevTools commands (network
//! conditions) through chromedriver's `goog/cdp/execute` endpoint.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

/// chromedriver as a child process, killed on drop.
pub struct Driver {
    child: Child,
    pub url: String,
    profile: super::servers::TempDir,
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
    let present = driver.is_some() && browser.is_some();
    if !super::available("browser", present, "apt-get install chromium chromium-driver") {
        return None;
    }
    let (Some(driver), Some(browser)) = (driver, browser) else { return None };
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
    Some((Driver { child, url: format!("http://127.0.0.1:{port}"), profile }, browser))
}

/// A DevTools command, sent through chromedriver.
#[derive(Debug)]
struct Cdp {
    cmd: &'static str,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!("session/{}/goog/cdp/execute", session_id.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(json!({ "cmd": self.cmd, "params": self.params }).to_string()))
    }
}

/// A browser session.
pub struct Session {
    client: Client,
}

impl Session {
    pub async fn start(driver: &Driver, browser: &std::path::Path) -> Session {
        let profile = driver.profile.0.display().to_string();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": browser.display().to_string(),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--window-size=1100,900",
                    format!("--user-data-dir={profile}")
                ]
            },
            "goog:loggingPrefs": { "browser": "ALL" }
        });
        let capabilities = capabilities.as_object().cloned().unwrap_or_default();
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .expect("a WebDriver session");
        Session { client }
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    /// Reloads the page (as a person pressing F5 mid-upload).
    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload");
    }

    pub async fn click(&self, css: &str) {
        self.client.find(Locator::Css(css)).await.expect("element").click().await.expect("click");
    }

    /// Chooses `path` in a file input.
    pub async fn choose_file(&self, css: &str, path: &std::path::Path) {
        let input = self.client.find(Locator::Css(css)).await.expect("file input");
        input.clear().await.expect("clear");
        input.send_keys(&path.display().to_string()).await.expect("choose the file");
    }

    pub async fn script(&self, script: &str) -> Value {
        self.client.execute(script, Vec::new()).await.expect("script")
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

    /// Sends a DevTools command (such as `Network.emulateNetworkConditions`).
    pub async fn devtools(&self, cmd: &'static str, params: Value) -> Value {
        self.client.issue_cmd(Cdp { cmd, params }).await.expect("a DevTools command")
    }

    /// Cuts the network (as a lost connection would), or brings it back, with `upload` bytes per
    /// second when given.
    pub async fn network(&self, online: bool, upload: Option<u64>) {
        let throughput = upload.map_or(-1.0, |b| b as f64);
        self.devtools("Network.enable", json!({})).await;
        self.devtools(
            "Network.emulateNetworkConditions",
            json!({ "offline": !online, "latency": 0, "downloadThroughput": -1.0, "uploadThroughput": throughput }),
        )
        .await;
    }

    /// The console's errors since the last call.
    pub async fn console_errors(&self) -> Vec<String> {
        #[derive(Debug)]
        struct Log;
        impl WebDriverCompatibleCommand for Log {
            fn endpoint(&self, base_url: &url::Url, session_id: Option<&str>) -> Result<url::Url, url::ParseError> {
                base_url.join(&format!("session/{}/se/log", session_id.unwrap_or_default()))
            }
            fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
                (http::Method::POST, Some(json!({ "type": "browser" }).to_string()))
            }
        }
        let entries = self.client.issue_cmd(Log).await.unwrap_or(Value::Null);
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The cookie `name` of the current page (HttpOnly ones too), as a `Cookie` header value.
    pub async fn cookie(&self, name: &str) -> String {
        let cookie = self.client.get_named_cookie(name).await.expect("the cookie");
        format!("{}={}", cookie.name(), cookie.value())
    }

    /// A PNG screenshot of the page.
    pub async fn screenshot(&self) -> Vec<u8> {
        self.client.screenshot().await.expect("screenshot")
    }

    pub async fn quit(self) {
        let _ = self.client.close().await;
    }
}
