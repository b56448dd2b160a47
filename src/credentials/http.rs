//! The few HTTP calls credential sources make: small answers, short timeouts, no redirects.

use std::time::Duration;

use super::CredentialsError;

/// The largest answer read from a credentials endpoint (real ones are a few kilobytes).
const MAX_ANSWER: usize = 64 * 1024;

/// An HTTP client for credential endpoints: connect within `connect_timeout`, no redirects (a
/// redirect could carry a token elsewhere), no proxy for link-local and loopback addresses.
pub(crate) fn client(provider: &str, connect_timeout: Duration) -> Result<reqwest::Client, CredentialsError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CredentialsError::invalid(provider, format!("building the HTTP client: {}", e.without_url())))
}

/// The client kept in `slot`, made on first use.
pub(crate) fn cached_client(
    slot: &std::sync::OnceLock<reqwest::Client>,
    provider: &str,
    connect_timeout: Duration,
) -> Result<reqwest::Client, CredentialsError> {
    if let Some(client) = slot.get() {
        return Ok(client.clone());
    }
    let made = client(provider, connect_timeout)?;
    Ok(slot.get_or_init(|| made).clone())
}

/// One request.
pub(crate) struct Call<'a> {
    pub(crate) provider: &'a str,
    pub(crate) method: reqwest::Method,
    pub(crate) url: &'a str,
    pub(crate) headers: Vec<(&'static str, &'a str)>,
    pub(crate) form: Option<String>,
    /// The whole exchange, answer included.
    pub(crate) timeout: Duration,
    /// Added to a timeout's message: what usually causes one here.
    pub(crate) timeout_hint: &'a str,
}

/// An answer: status and body (at most [`MAX_ANSWER`] bytes, as text).
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// `url` without its query string, for messages.
pub(crate) fn shown(url: &str) -> String {
    url.split(['?', '#']).next().unwrap_or_default().to_owned()
}

/// Sends `call` and reads the answer, within its timeout.
pub(crate) async fn send(client: &reqwest::Client, call: Call<'_>) -> Result<Reply, CredentialsError> {
    let timeout = call.timeout;
    let provider = call.provider;
    let hint = call.timeout_hint;
    let url = call.url;
    let timed_out =
        || CredentialsError::Timeout { provider: provider.to_owned(), after: timeout, hint: hint.to_owned() };
    match tokio::time::timeout(timeout, exchange(client, call)).await {
        Ok(Ok(reply)) => Ok(reply),
        Ok(Err(e)) if e.is_timeout() => Err(timed_out()),
        Ok(Err(e)) => Err(CredentialsError::Unreachable {
            provider: provider.to_owned(),
            endpoint: shown(url),
            reason: reason(&e),
        }),
        Err(_) => Err(timed_out()),
    }
}

async fn exchange(client: &reqwest::Client, call: Call<'_>) -> Result<Reply, reqwest::Error> {
    let mut builder = client.request(call.method, call.url);
    for (name, value) in call.headers {
        builder = builder.header(name, value);
    }
    if let Some(form) = call.form {
        builder = builder.header("content-type", "application/x-www-form-urlencoded").body(form);
    }
    let mut response = builder.send().await?;
    let status = response.status().as_u16();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_ANSWER.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if room < chunk.len() {
            break;
        }
    }
    Ok(Reply { status, body: String::from_utf8_lossy(&body).into_owned() })
}

/// What went wrong, in a sentence, without the URL (which may carry a query): the kind of failure,
/// then the causes the HTTP client reports (such as "Connection refused").
fn reason(e: &reqwest::Error) -> String {
    let mut text = if e.is_connect() {
        "connection failed".to_owned()
    } else if e.is_body() || e.is_decode() {
        "reading the answer failed".to_owned()
    } else {
        "the request failed".to_owned()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        let shown = cause.to_string();
        if !text.ends_with(&shown) {
            text = format!("{text}: {shown}");
        }
        source = cause.source();
    }
    text
}
