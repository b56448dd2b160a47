//! The upload endpoints served in this process, and called as a browser (or Uppy) calls them — as a
//! given person, through the `x-test-user` header the tests' identity hook reads.

use std::time::Duration;

use serde_json::Value;
use stowage::axum::{IdentityRefusal, Uploader};

use super::raw_http;

/// The header the tests' identity hook reads.
pub const USER: &str = "x-test-user";

/// The tests' identity hook: the uploader named by `x-test-user`; nobody without it.
pub async fn from_header(parts: axum::http::request::Parts) -> Result<Uploader, IdentityRefusal> {
    let Some(name) = parts.headers.get(USER).and_then(|v| v.to_str().ok()) else {
        return Err(IdentityRefusal::unauthorized("Sign in to upload files."));
    };
    Uploader::new(name).map_err(|_| IdentityRefusal::forbidden("This account cannot upload files."))
}

/// A router served on 127.0.0.1 until dropped.
pub struct Api {
    pub base: String,
    http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Api {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Api {
    /// Serves `uploads` under `/api`.
    pub async fn serve(uploads: axum::Router) -> Api {
        let app = axum::Router::new().nest("/api", uploads);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}/api", listener.local_addr().expect("address"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Api { base, http: reqwest::Client::new(), task }
    }

    /// Stops serving (the router and everything it held are dropped).
    pub async fn stop(self) {
        drop(self);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    /// `method path` with a JSON `body`, as `user` (none: no identity).
    pub async fn call(
        &self,
        user: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        if let Some(user) = user {
            request = request.header(USER, user);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_string());
        }
        let response = request.send().await.expect("the endpoints answer");
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// Calls as `user`.
    pub fn by<'a>(&'a self, user: &'a str) -> As<'a> {
        As { api: self, user: Some(user) }
    }

    /// Calls as nobody in particular (a router without an identity hook).
    pub fn anyone(&self) -> As<'_> {
        As { api: self, user: None }
    }

    /// POST as nobody in particular.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.anyone().post(path, body).await
    }

    /// GET as nobody in particular.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.anyone().get(path).await
    }

    /// DELETE as nobody in particular.
    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.anyone().delete(path).await
    }
}

/// Calls to an [`Api`] as one person.
#[derive(Clone, Copy)]
pub struct As<'a> {
    api: &'a Api,
    user: Option<&'a str>,
}

impl As<'_> {
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.api.call(self.user, reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.api.call(self.user, reqwest::Method::GET, path, None).await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.api.call(self.user, reqwest::Method::DELETE, path, None).await
    }
}

/// Asserts a refusal: `expected`, and a sentence for people (no media types, no keys).
pub fn refused(what: &str, (status, body): &(u16, Value), expected: u16) -> String {
    assert_eq!(*status, expected, "{what}: {body}");
    let sentence = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(sentence.len() > 10 && sentence.ends_with('.'), "{what}: a sentence: {sentence:?}");
    assert!(!sentence.contains("staging/") && !sentence.contains("image/png"), "{what}: no jargon: {sentence}");
    assert_eq!(body["status"], *status, "{what}");
    sentence
}

/// The headers a presigned request asks for, but Content-Length (the raw client writes it).
pub fn headers(request: &Value) -> Vec<(String, String)> {
    request["headers"]
        .as_object()
        .map(|h| {
            h.iter()
                .filter(|(k, _)| k.as_str() != "content-length")
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

/// Sends `bytes` as a presigned request of the endpoints asks.
pub async fn put(request: &Value, bytes: &[u8]) -> raw_http::Response {
    let headers = headers(request);
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    raw_http::send("PUT", request["url"].as_str().expect("a url"), &headers, bytes).await
}

/// `text` as a query value.
pub fn urlencoding(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}
