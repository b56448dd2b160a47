//! A deliberately plain HTTP/1.1 client for the conformance suite: it sends the request target
//! exactly as given (no URL normalisation, as `curl --path-as-is`), the way a presigned URL reaches a
//! server from a browser that keeps it, and reads the whole response. Plain `http://` only (the test
//! servers); for `https://` the suite uses reqwest, which normalises dot segments — the keys that have
//! them are then not tried through presigned URLs (the report says so).

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A response, read whole.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Response {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).chars().take(300).collect()
    }
}

/// Whether `url` can be sent exactly as written (plain HTTP).
pub(crate) fn keeps_paths(url: &str) -> bool {
    url.starts_with("http://")
}

/// Sends `method url` with `headers` and `body` (Content-Length set from the body).
pub(crate) async fn send(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    match url.strip_prefix("http://") {
        Some(rest) => send_plain(method, rest, headers, body).await,
        None => send_reqwest(method, url, headers, body).await,
    }
}

async fn send_reqwest(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let mut request = reqwest::Client::new().request(method, url).timeout(Duration::from_secs(60)).body(body.to_vec());
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.map_err(|e| e.without_url().to_string())?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
        .collect();
    let body = response.bytes().await.map_err(|e| e.without_url().to_string())?.to_vec();
    Ok(Response { status, headers, body })
}

async fn send_plain(method: &str, rest: &str, headers: &[(&str, &str)], body: &[u8]) -> Result<Response, String> {
    let (authority, target) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let mut stream = tokio::time::timeout(Duration::from_secs(10), TcpStream::connect(authority))
        .await
        .map_err(|_| format!("connecting to {authority} timed out"))?
        .map_err(|e| format!("connecting to {authority}: {e}"))?;
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if method != "GET" && method != "HEAD" || !body.is_empty() {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    let exchange = async {
        // A server may answer (a refusal) and close before the whole body is sent, as browsers see
        // it: a failed write is followed by reading what it said.
        let written = async {
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(body).await?;
            stream.flush().await
        }
        .await;
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw).await;
        match (written, read) {
            (_, Ok(_)) if !raw.is_empty() => Ok(raw),
            (Err(e), _) | (Ok(()), Err(e)) => Err(e),
            (Ok(()), Ok(_)) => Ok(raw),
        }
    };
    let raw = tokio::time::timeout(Duration::from_secs(60), exchange)
        .await
        .map_err(|_| "the server did not answer within 60 s".to_owned())?
        .map_err(|e| format!("the exchange failed: {e}"))?;
    parse(&raw, method == "HEAD")
}

fn parse(raw: &[u8], head_only: bool) -> Result<Response, String> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("the answer has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or("the answer has no status")?;
    let headers: Vec<(String, String)> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).collect();
    let rest = &raw[split + 4..];
    let chunked = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if head_only {
        Vec::new()
    } else if chunked {
        dechunk(rest)
    } else {
        rest.to_vec()
    };
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = data.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&data[..line_end]);
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("0").trim(), 16).unwrap_or(0);
        data = &data[line_end + 2..];
        if size == 0 || data.len() < size {
            break;
        }
        out.extend_from_slice(&data[..size]);
        data = &data[(size + 2).min(data.len())..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_whole_or_refused() {
        let r =
            parse(b"HTTP/1.1 200 OK\r\nETag: \"e\"\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false)
                .unwrap();
        assert_eq!((r.status, r.header("etag"), r.body.as_slice()), (200, Some("\"e\""), &b"abc"[..]));
        assert!(parse(b"garbage", false).is_err());
        assert!(parse(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
    }
}
