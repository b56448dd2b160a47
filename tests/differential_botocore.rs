//! Differential test against botocore itself: thousands of random S3 requests (unicode keys with
//! every awkward character, header values with odd spacing, response overrides and other query
//! parameters, session tokens, regions, endpoints, addressing styles, times, expiries) are signed by
//! stowage and by real botocore S3 clients (`tests/support/botocore_sign.py`), and must agree to the
//! byte: presigned URLs, and for header signing the URL, `X-Amz-Date`, `X-Amz-Content-SHA256`,
//! `X-Amz-Security-Token` and `Authorization`.
//!
//! Needs `python3` with botocore. Under CI (`CI=true`) or with `STOWAGE_REQUIRE_BOTOCORE=1` a missing
//! botocore fails the test; elsewhere it says plainly that it skipped. `STOWAGE_DIFF_CASES` sets the
//! number of requests (default 4000), `STOWAGE_TEST_SEED` replays a run.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{Map, Value, json};
use stowage::Credentials;
use stowage::sigv4::{AddressingStyle, BucketAddress, Method, Payload, Signer, parse_amz_date};
use support::botocore_available;
use support::rng::Rng;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/botocore_sign.py");

struct Creds {
    access_key: String,
    secret: String,
    token: Option<String>,
}

fn gen_creds(rng: &mut Rng) -> Creds {
    const UPPER_DIGITS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    const B64: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let access_key = rng.string_between(UPPER_DIGITS, 16, 32);
    let secret = rng.string_from(B64, 40);
    let token = rng.chance(50).then(|| {
        let len = rng.range(20, 400) as usize;
        rng.string_from(&format!("{B64}="), len)
    });
    Creds { access_key, secret, token }
}

/// A key built from the pieces that break signers: reserved and unreserved ASCII, slashes and dot
/// segments, percent signs, controls, accents (composed and decomposed), CJK, emoji.
fn gen_key(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        " ",
        "+",
        "~",
        "=",
        "&",
        "?",
        "#",
        "%",
        "%20",
        "!",
        "$",
        "'",
        "(",
        ")",
        "*",
        ",",
        ";",
        ":",
        "@",
        "[",
        "]",
        "{",
        "}",
        "<",
        ">",
        "|",
        "^",
        "`",
        "\\",
        "\"",
        "/",
        "//",
        ".",
        "..",
        "./",
        "../",
        "-",
        "_",
        "\t",
        "\u{1}",
        "\u{7f}",
        "é",
        "e\u{301}",
        "ü",
        "ß",
        "Ω",
        "ሴ",
        "日本語",
        "ファイル",
        "😀",
        "🚀",
        "\u{200b}",
        "\u{feff}",
        "\u{fffd}",
    ];
    const ALNUM: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let target = if rng.chance(4) { rng.range(900, 1024) as usize } else { rng.range(1, 60) as usize };
    let mut key = String::new();
    while key.len() < target {
        let piece = if rng.chance(45) {
            let len = rng.range(1, 8) as usize;
            rng.string_from(ALNUM, len)
        } else {
            (*rng.pick(PIECES)).to_owned()
        };
        if key.len() + piece.len() > 1024 {
            break;
        }
        key.push_str(&piece);
    }
    if key.is_empty() {
        key.push('k');
    }
    key
}

/// A header value of visible ASCII with runs of spaces and tabs inside and around it.
fn gen_header_value(rng: &mut Rng) -> String {
    const WORD: &str =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let mut value = String::new();
    if rng.chance(20) {
        value.push_str(&" ".repeat(rng.range(1, 3) as usize));
    }
    for i in 0..rng.range(0, 4) {
        if i > 0 {
            let gap = rng.string_between(" \t", 1, 4);
            value.push_str(&gap);
        }
        let len = rng.range(1, 12) as usize;
        value.push_str(&rng.string_from(WORD, len));
    }
    if rng.chance(20) {
        value.push_str(&rng.string_between(" \t", 1, 3));
    }
    value
}

/// Free text for query parameters: anything but what JSON cannot carry.
fn gen_text(rng: &mut Rng) -> String {
    const PIECES: &[&str] = &[
        "attachment; filename=\"",
        "inline",
        "\"",
        "; ",
        "filename*=UTF-8''",
        "r%C3%A9sum%C3%A9",
        "résumé.pdf",
        "a b",
        "+",
        "/",
        "=",
        "&",
        "?",
        "#",
        "%",
        "~",
        "日本",
        "😀",
        "\t",
        "\n",
        "text/html; charset=utf-8",
        "max-age=60",
    ];
    (0..rng.range(0, 6)).map(|_| *rng.pick(PIECES)).collect()
}

fn gen_bucket(rng: &mut Rng, dotted: bool) -> String {
    const LOWER: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    let mut b = rng.string_from("abcdefghijklmnopqrstuvwxyz", 1);
    let len = rng.range(2, 20) as usize;
    b.push_str(&rng.string_from(LOWER, len));
    if rng.chance(30) {
        b.push('-');
        b.push_str(&rng.string_from(LOWER, 3));
    }
    if dotted {
        b.push('.');
        b.push_str(&rng.string_from(LOWER, 4));
    }
    b
}

const AWS_REGIONS: &[&str] = &[
    "us-east-1",
    "us-east-2",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
    "ap-northeast-1",
    "sa-east-1",
    "ca-central-1",
    "cn-north-1",
    "us-gov-west-1",
];

struct Case {
    json: Value,
    creds: usize,
}

fn gen_case(rng: &mut Rng, id: usize, creds: &[Creds]) -> Case {
    let presign = rng.chance(60);
    let method = *rng.pick(&["PUT", "GET", "HEAD", "DELETE"]);
    let client_method = match method {
        "PUT" => "put_object",
        "GET" => "get_object",
        "HEAD" => "head_object",
        _ => "delete_object",
    };
    // Endpoint parts come from small pools, so that botocore builds few clients.
    let acct = *rng.pick(&["0123456789abcdef0123456789abcdef", "a1b2c3d4e5f60718293a4b5c6d7e8f90"]);
    let (endpoint, region, style): (Value, String, &str) = match rng.below(7) {
        0 | 1 => {
            let style = if rng.chance(70) { "virtual" } else { "path" };
            (Value::Null, (*rng.pick(AWS_REGIONS)).to_owned(), style)
        }
        2 => (json!(format!("https://{acct}.r2.cloudflarestorage.com")), "auto".to_owned(), "path"),
        3 => (json!(format!("https://{acct}.eu.r2.cloudflarestorage.com")), "auto".to_owned(), "path"),
        4 => {
            let port = *rng.pick(&[9000, 3900, 65535]);
            let host = *rng.pick(&["127.0.0.1", "localhost", "[::1]"]);
            let region = if rng.chance(50) {
                "us-east-1".to_owned()
            } else {
                format!(
                    "{}-{}-{}",
                    rng.string_between("abcdefghij", 2, 5),
                    rng.string_between("abcdefghij0123", 1, 8),
                    rng.range(1, 9)
                )
            };
            (json!(format!("http://{host}:{port}")), region, "path")
        }
        5 => (json!("https://s3.example.test"), (*rng.pick(&["auto", "garage", "us-east-1"])).to_owned(), "virtual"),
        _ => (
            json!("https://storage.example.test:8443"),
            "auto".to_owned(),
            if rng.chance(50) { "virtual" } else { "path" },
        ),
    };
    let dotted = style == "path" && rng.chance(20);
    let bucket = gen_bucket(rng, dotted);
    let key = gen_key(rng);
    let c = rng.below(creds.len());
    let at = time::OffsetDateTime::from_unix_timestamp(rng.range(0, 4_102_444_799) as i64).expect("timestamp");
    let timestamp = format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    );

    let mut params = Map::new();
    let mut body = Value::Null;
    match method {
        "PUT" => {
            if rng.chance(70) {
                let ct = if rng.chance(50) {
                    (*rng.pick(&[
                        "image/png",
                        "text/plain;  charset=UTF-8",
                        "  application/json ",
                        "image/jpeg",
                        "a\tb",
                    ]))
                    .to_owned()
                } else {
                    gen_header_value(rng)
                };
                params.insert("ContentType".into(), json!(ct));
            }
            let len = rng.range(0, 40) as usize;
            let text = rng.string_from("hello wörld 日本 ", len);
            if rng.chance(50) {
                params.insert("ContentLength".into(), json!(text.len()));
            }
            if !presign {
                body = json!(text);
            }
            if rng.chance(40) {
                let mut meta = Map::new();
                for _ in 0..rng.range(1, 3) {
                    let name_len = rng.range(1, 10) as usize;
                    meta.insert(
                        rng.string_from("abcdefghijklmnopqrstuvwxyz0123456789-", name_len),
                        json!(gen_header_value(rng)),
                    );
                }
                params.insert("Metadata".into(), Value::Object(meta));
            }
            if rng.chance(15) {
                params.insert("CacheControl".into(), json!(gen_header_value(rng)));
            }
        }
        "GET" | "HEAD" => {
            if method == "GET" {
                for name in ["ResponseContentDisposition", "ResponseContentType", "ResponseCacheControl"] {
                    if rng.chance(35) {
                        params.insert(name.into(), json!(gen_text(rng)));
                    }
                }
            }
            if rng.chance(15) {
                params.insert("VersionId".into(), json!(gen_text(rng)));
            }
            if rng.chance(20) {
                params.insert("Range".into(), json!(format!("bytes={}-{}", rng.range(0, 9), rng.range(10, 99999))));
            }
        }
        _ => {
            if rng.chance(15) {
                params.insert("VersionId".into(), json!(gen_text(rng)));
            }
        }
    }
    let payload_signing = if presign {
        Value::Null
    } else if endpoint.as_str().is_some_and(|e| e.starts_with("http:")) {
        // botocore always signs the payload over plain HTTP.
        json!(true)
    } else {
        json!(rng.chance(50))
    };
    let cred = &creds[c];
    Case {
        json: json!({
            "id": id,
            "op": if presign { "presign" } else { "header" },
            "method": method,
            "client_method": client_method,
            "endpoint": endpoint,
            "region": region,
            "style": style,
            "access_key": cred.access_key,
            "secret": cred.secret,
            "token": cred.token,
            "timestamp": timestamp,
            "expires": rng.range(1, 604_800),
            "bucket": bucket,
            "key": key,
            "params": params,
            "body": body,
            "payload_signing": payload_signing,
        }),
        creds: c,
    }
}

/// Signs a case with stowage: `(url, auth headers)`.
fn sign_with_stowage(case: &Value, creds: &Creds) -> Result<(String, Vec<(String, String)>), String> {
    let s = |k: &str| case[k].as_str().unwrap_or_default();
    let mut credentials = Credentials::new(creds.access_key.as_str(), creds.secret.as_str());
    if let Some(t) = &creds.token {
        credentials = credentials.with_session_token(t.as_str());
    }
    let signer = Signer::new(credentials, s("region"), "s3").map_err(|e| e.to_string())?;
    let style = if s("style") == "virtual" { AddressingStyle::VirtualHosted } else { AddressingStyle::Path };
    let endpoint = match case["endpoint"].as_str() {
        Some(e) => e.to_owned(),
        None => BucketAddress::aws_endpoint(s("region")).map_err(|e| e.to_string())?,
    };
    let address = BucketAddress::new(&endpoint, s("bucket"), style).map_err(|e| e.to_string())?;
    let method: Method = s("method").parse().map_err(|e: stowage::sigv4::Error| e.to_string())?;
    let mut request = address.object(method, s("key")).map_err(|e| e.to_string())?;

    let params = case["params"].as_object().cloned().unwrap_or_default();
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), str::to_owned);
    for (name, value) in &params {
        request = match name.as_str() {
            "ContentType" => request.header("Content-Type", text(value)),
            "ContentLength" => request.header("Content-Length", text(value)),
            "CacheControl" => request.header("Cache-Control", text(value)),
            "Range" => request.header("Range", text(value)),
            "Metadata" => {
                let mut r = request;
                for (k, v) in value.as_object().into_iter().flatten() {
                    r = r.header(format!("x-amz-meta-{k}"), text(v));
                }
                r
            }
            "ResponseContentDisposition" => request.query("response-content-disposition", text(value)),
            "ResponseContentType" => request.query("response-content-type", text(value)),
            "ResponseCacheControl" => request.query("response-cache-control", text(value)),
            "VersionId" => request.query("versionId", text(value)),
            other => return Err(format!("unmapped parameter {other}")),
        };
    }
    let at = parse_amz_date(s("timestamp")).map_err(|e| e.to_string())?;
    if s("op") == "presign" {
        let expires = Duration::from_secs(case["expires"].as_u64().unwrap_or(300));
        let url = signer.presign(&request, expires, at).map_err(|e| e.to_string())?;
        return Ok((url.url().to_owned(), Vec::new()));
    }
    let body = case["body"].as_str().unwrap_or_default().as_bytes();
    let payload = match case["payload_signing"].as_bool() {
        Some(false) => Payload::Unsigned,
        _ => Payload::Bytes(body),
    };
    let request = request.payload(payload);
    let auth = signer.sign(&request, at).map_err(|e| e.to_string())?;
    Ok((request.url(), auth.iter().map(|(k, v)| (k.to_owned(), v.to_owned())).collect()))
}

fn without_default_port(url: &str) -> String {
    url.replacen(":443/", "/", 1).replacen(":80/", "/", 1)
}

#[test]
fn stowage_and_botocore_agree() {
    if !botocore_available() {
        return;
    }
    let count: usize = std::env::var("STOWAGE_DIFF_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(4000);
    let mut rng = Rng::from_env("differential_botocore");
    let creds: Vec<Creds> = (0..8).map(|_| gen_creds(&mut rng)).collect();
    let cases: Vec<Case> = (0..count).map(|id| gen_case(&mut rng, id, &creds)).collect();

    // botocore signs through awscrt when it is installed (tests/integrity.rs needs it), whose clock the
    // script cannot fix: the reference is botocore's own Python signer.
    let mut child = Command::new("python3")
        .env("BOTO_DISABLE_CRT", "true")
        .arg(SCRIPT)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start python3");
    let mut input = String::new();
    for case in &cases {
        input.push_str(&case.json.to_string());
        input.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output().expect("botocore output");
    writer.join().expect("writer thread").expect("write cases");
    assert!(output.status.success(), "botocore_sign.py failed");
    let results: Vec<Value> = String::from_utf8(output.stdout)
        .expect("UTF-8")
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(results.len(), cases.len(), "one botocore result per case");

    let mut mismatches = Vec::new();
    let (mut presigned, mut header) = (0, 0);
    for (case, theirs) in cases.iter().zip(&results) {
        let c = &case.json;
        if let Some(err) = theirs["error"].as_str() {
            mismatches.push(format!("case {}: botocore failed: {err}\n  case: {c}", c["id"]));
            continue;
        }
        let ours = match sign_with_stowage(c, &creds[case.creds]) {
            Ok(ours) => ours,
            Err(e) => {
                mismatches.push(format!("case {}: stowage refused: {e}\n  case: {c}", c["id"]));
                continue;
            }
        };
        let their_url = without_default_port(theirs["url"].as_str().unwrap_or_default());
        let mut problems = Vec::new();
        if ours.0 != their_url {
            problems.push(format!("URL\n    ours:     {}\n    botocore: {their_url}", ours.0));
        }
        if c["op"] == "header" {
            header += 1;
            let their_headers = theirs["headers"].as_object().cloned().unwrap_or_default();
            let get = |name: &str| {
                their_headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).and_then(|(_, v)| v.as_str())
            };
            for (name, value) in &ours.1 {
                if get(name) != Some(value.as_str()) {
                    problems.push(format!("header {name}\n    ours:     {value}\n    botocore: {:?}", get(name)));
                }
            }
            if creds[case.creds].token.is_none() && get("x-amz-security-token").is_some() {
                problems.push("botocore sent a token we did not".into());
            }
        } else {
            presigned += 1;
        }
        if !problems.is_empty() {
            mismatches.push(format!("case {}: {}\n  case: {c}", c["id"], problems.join("\n  ")));
        }
    }
    for m in mismatches.iter().take(8) {
        eprintln!("{m}\n");
    }
    assert!(mismatches.is_empty(), "{} of {} requests differ from botocore", mismatches.len(), cases.len());
    eprintln!(
        "differential: {} requests signed identically by stowage and botocore ({presigned} presigned, {header} header)",
        cases.len()
    );
}
