//! Finding the shared SigV4 vectors and reading their request files.
//!
//! The vectors live outside the repository, in `../shared/vectors` beside the project (override the
//! path with `STOWAGE_VECTORS_DIR`). They are read from there and never copied in. Under CI
//! (`CI=true`) a missing set fails the test; elsewhere the test says plainly that it skipped.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// The vectors directory, or `None` (after saying so) when it is absent outside CI.
pub fn vectors_dir(set: &str) -> Option<PathBuf> {
    let base = match std::env::var_os("STOWAGE_VECTORS_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("shared").join("vectors"),
    };
    let dir = base.join(set);
    if dir.exists() {
        return Some(dir);
    }
    let message = format!(
        "the SigV4 vector set {set} is missing at {} (set STOWAGE_VECTORS_DIR to the vectors directory)",
        dir.display()
    );
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}; CI requires it");
    }
    eprintln!("SKIPPED: {message}");
    None
}

/// A request as written in the suites' `request.txt` / `.req` files.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: String,
    /// The path as written: raw, not percent-encoded.
    pub path: String,
    /// The query string as written (may be raw or encoded), without `?`.
    pub query: Option<String>,
    /// Headers in order, continuation lines folded into the value with a space.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawRequest {
    pub fn parse(bytes: &[u8]) -> RawRequest {
        let text = String::from_utf8(bytes.to_vec()).expect("request files are UTF-8");
        let (head, body) = match text.split_once("\n\n") {
            Some((head, body)) => (head.to_owned(), body.as_bytes().to_vec()),
            None => (text.trim_end_matches('\n').to_owned(), Vec::new()),
        };
        let mut lines = head.split('\n');
        let request_line = lines.next().expect("a request line");
        let request_line = request_line.strip_suffix(" HTTP/1.1").expect("HTTP/1.1 request line");
        let (method, target) = request_line.split_once(' ').expect("METHOD TARGET");
        let (path, query) = match target.split_once('?') {
            Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
            None => (target.to_owned(), None),
        };
        let mut headers: Vec<(String, String)> = Vec::new();
        for line in lines {
            if line.starts_with([' ', '\t']) {
                // obs-fold: a continuation of the previous header's value, replaced by a space.
                let last = headers.last_mut().expect("a header before a continuation line");
                last.1.push(' ');
                last.1.push_str(line.trim_start());
                continue;
            }
            let (name, value) = line.split_once(':').expect("Name:value");
            headers.push((name.to_owned(), value.to_owned()));
        }
        RawRequest { method: method.to_owned(), path, query, headers, body }
    }

    /// Removes and returns the first header called `name` (case-insensitive).
    pub fn take_header(&mut self, name: &str) -> Option<String> {
        let i = self.headers.iter().position(|(k, _)| k.eq_ignore_ascii_case(name))?;
        Some(self.headers.remove(i).1)
    }

    /// The query parameters, decoded.
    pub fn query_pairs(&self) -> Vec<(String, String)> {
        decode_query(self.query.as_deref().unwrap_or(""))
    }
}

/// `a=b&c=d` into decoded pairs (a pair without `=` has an empty value).
pub fn decode_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

pub fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8().expect("UTF-8 after decoding").into_owned()
}

/// Reads a file as UTF-8, exactly (the vectors have no trailing newline).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// The headers of a signed request file (request line and body excluded), names lowercased.
pub fn signed_request_headers(text: &str) -> Vec<(String, String)> {
    let head = text.split("\n\n").next().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for line in head.split('\n').skip(1) {
        if line.starts_with([' ', '\t']) {
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            out.push((k.to_ascii_lowercase(), v.strip_prefix(' ').unwrap_or(v).to_owned()));
        }
    }
    out
}

/// The decoded query pairs of a signed request file's request line, sorted.
pub fn signed_request_query(text: &str) -> Vec<(String, String)> {
    let line = text.split('\n').next().unwrap_or_default();
    let line = line.strip_suffix(" HTTP/1.1").unwrap_or(line);
    let target = line.split_once(' ').map(|(_, t)| t).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let mut pairs = decode_query(query);
    pairs.sort();
    pairs
}

/// The decoded, sorted query pairs of a URL.
pub fn url_query(url: &str) -> Vec<(String, String)> {
    let mut pairs = decode_query(url.split_once('?').map(|(_, q)| q).unwrap_or_default());
    pairs.sort();
    pairs
}
