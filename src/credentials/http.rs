//! The few HTTP calls credential sources make: small answers, short timeouts, no redirects.

use std::time::Duration;

use super::CredentialsError;

/// The largest answer read from a credentials endpoint (real ones are a few kilobytes).
const MAX_ANSWER: usize = 64 * 1024;

/// Where a credentials endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reach {
    /// On this host or its link (the container agent, instance metadata): never through a proxy,
    /// which would carry tokens and credentials across a network (and which IMDS refuses), as the
    /// AWS SDKs do.
    Local,
    /// A service on the internet (STS): through the proxy the environment names, if any.
    Internet,
}

/// An HTTP client for credential endpoints: connect within `connect_timeout`, no redirects (a
/// redirect could carry a token elsewhere), no proxy for local endpoints.
pub(crate) fn client(
    provider: &str,
    connect_timeout: Duration,
    reach: Reach,
) -> Result<reqwest::Client, CredentialsError> {
    let builder = reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("stowage/", env!("CARGO_PKG_VERSION")));
    let builder = if reach == Reach::Local { builder.no_proxy() } else { builder };
    builder
        .build()
        .map_err(|e| CredentialsError::invalid(provider, format!("building the HTTP client: {}", e.without_url())))
}

/// The client kept in `slot`, made on first use.
pub(crate) fn cached_client(
    slot: &std::sync::OnceLock<reqwest::Client>,
    provider: &str,
    connect_timeout: Duration,
    reach: Reach,
) -> Result<reqwest::Client, CredentialsError> {
    if let Some(client) = slot.get() {
        return Ok(client.clone());
    }
    let made = client(provider, connect_timeout, reach)?;
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

/// Where `url` points, for messages: scheme, host and port only. The path can be a capability (the
/// ECS relative URI is one) and the user information a secret.
pub(crate) fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(host), Some(port)) => format!("{}://{host}:{port}", u.scheme()),
            (Some(host), None) => format!("{}://{host}", u.scheme()),
            _ => format!("{}://", u.scheme()),
        },
        Err(_) => "an unreadable URL".to_owned(),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_shown_without_path_query_or_user() {
        assert_eq!(shown("http://169.254.170.2/v2/credentials/3f1c-secret-id"), "http://169.254.170.2");
        assert_eq!(shown("https://user:pass@creds.example.com:8443/x?token=abc"), "https://creds.example.com:8443");
        assert_eq!(shown("http://[fd00:ec2::23]/v1/credentials"), "http://[fd00:ec2::23]");
        assert_eq!(shown("not a url"), "an unreadable URL");
    }
}
