//! Print a presigned URL for an S3 or R2 object, like `aws s3 presign`, but for any method and with
//! signed headers.
//!
//! ```text
//! cargo run --example presign -- [OPTIONS] <METHOD> [--] <KEY>
//! ```
//!
//! Configuration comes from the environment: `S3_ACCESS_KEY_ID`, `S3_SECRET_ACCESS_KEY`, optional
//! `S3_SESSION_TOKEN`, `S3_BUCKET`, `S3_REGION` (`auto` for R2) and optional `S3_ENDPOINT` (absent:
//! AWS, `https://s3.<region>.amazonaws.com`). The `AWS_*` names are used when the `S3_*` ones are
//! unset.
//!
//! Output: the URL alone on the first line, then the headers the uploader must send, one
//! `Name: value` a line.

use std::process::ExitCode;
use std::time::Duration;

use stowage::credentials::EnvironmentCredentials;
use stowage::sigv4::{AddressingStyle, BucketAddress, Method, Signer, parse_amz_date};

const USAGE: &str = "\
usage: cargo run --example presign -- [OPTIONS] <METHOD> [--] <KEY>

  METHOD              GET | PUT | HEAD | DELETE
  --expires SECS      default 300 (at most 604800, 7 days)
  --content-type T    sign Content-Type
  --content-length N  sign Content-Length
  --header NAME:VALUE sign another header (repeatable)
  --query NAME=VALUE  add a signed query parameter such as response-content-disposition (repeatable)
  --at TIME           sign as of TIME (ISO 8601 basic, 20130524T000000Z) instead of now
  --path-style | --virtual-hosted   addressing; default: virtual-hosted for AWS, path-style otherwise

environment: S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, [S3_SESSION_TOKEN], S3_BUCKET,
             S3_REGION (auto for R2), [S3_ENDPOINT] (absent: AWS)";

/// A failure and the exit code it maps to: 2 for a usage error, 1 otherwise.
struct Failure {
    message: String,
    usage: bool,
}

impl Failure {
    fn usage(message: impl Into<String>) -> Self {
        Self { message: message.into(), usage: true }
    }
}

impl From<stowage::sigv4::Error> for Failure {
    fn from(e: stowage::sigv4::Error) -> Self {
        Self { message: e.to_string(), usage: false }
    }
}

#[derive(Default)]
struct Options {
    method: Option<Method>,
    key: Option<String>,
    expires: Option<u64>,
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    at: Option<time::OffsetDateTime>,
    style: Option<AddressingStyle>,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, Failure> {
    let mut options = Options::default();
    let mut positional = Vec::new();
    let mut args = args.into_iter();
    let mut only_positional = false;
    while let Some(arg) = args.next() {
        if only_positional || !arg.starts_with("--") || arg == "-" {
            if arg == "-h" {
                return Ok(None);
            }
            positional.push(arg);
            continue;
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg.clone(), None),
        };
        let mut value = |name: &str| -> Result<String, Failure> {
            inline.clone().or_else(|| args.next()).ok_or_else(|| Failure::usage(format!("{name} needs a value")))
        };
        match flag.as_str() {
            "--" => only_positional = true,
            "--help" => return Ok(None),
            "--expires" => {
                let v = value("--expires")?;
                let secs =
                    v.parse().map_err(|_| Failure::usage(format!("--expires takes whole seconds, not {v:?}")))?;
                options.expires = Some(secs);
            }
            "--content-type" => options.headers.push(("Content-Type".into(), value("--content-type")?)),
            "--content-length" => {
                let v = value("--content-length")?;
                let n: u64 =
                    v.parse().map_err(|_| Failure::usage(format!("--content-length takes a byte count, not {v:?}")))?;
                options.headers.push(("Content-Length".into(), n.to_string()));
            }
            "--header" => {
                let v = value("--header")?;
                let (name, val) =
                    v.split_once(':').ok_or_else(|| Failure::usage(format!("--header takes NAME:VALUE, not {v:?}")))?;
                options.headers.push((name.trim().to_owned(), val.trim_start().to_owned()));
            }
            "--query" => {
                let v = value("--query")?;
                let (name, val) =
                    v.split_once('=').ok_or_else(|| Failure::usage(format!("--query takes NAME=VALUE, not {v:?}")))?;
                options.query.push((name.to_owned(), val.to_owned()));
            }
            "--at" => options.at = Some(parse_amz_date(&value("--at")?)?),
            "--path-style" => options.style = Some(AddressingStyle::Path),
            "--virtual-hosted" => options.style = Some(AddressingStyle::VirtualHosted),
            other => return Err(Failure::usage(format!("unknown option {other}"))),
        }
    }
    let mut positional = positional.into_iter();
    let method = positional.next().ok_or_else(|| Failure::usage("missing METHOD"))?;
    let method = match method.to_ascii_uppercase().as_str() {
        "GET" => Method::Get,
        "PUT" => Method::Put,
        "HEAD" => Method::Head,
        "DELETE" => Method::Delete,
        _ => return Err(Failure::usage(format!("METHOD must be GET, PUT, HEAD or DELETE, not {method:?}"))),
    };
    options.method = Some(method);
    options.key = Some(positional.next().ok_or_else(|| Failure::usage("missing KEY"))?);
    if let Some(extra) = positional.next() {
        return Err(Failure::usage(format!("unexpected argument {extra:?} (quote a KEY that holds spaces)")));
    }
    Ok(Some(options))
}

fn env(primary: &str, fallbacks: &[&str]) -> Option<String> {
    std::iter::once(primary)
        .chain(fallbacks.iter().copied())
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn run() -> Result<(), Failure> {
    let Some(options) = parse_args(std::env::args().skip(1))? else {
        println!("{USAGE}");
        return Ok(());
    };
    // Where credentials come from is the credentials layer's business; the signer only takes them.
    let credentials = EnvironmentCredentials::new().credentials().map_err(|e| Failure::usage(e.to_string()))?;
    let bucket = env("S3_BUCKET", &[]).ok_or_else(|| Failure::usage("S3_BUCKET is not set"))?;
    let region = env("S3_REGION", &["AWS_REGION", "AWS_DEFAULT_REGION"])
        .ok_or_else(|| Failure::usage("S3_REGION is not set (use auto for Cloudflare R2)"))?;
    let address = match (env("S3_ENDPOINT", &[]), options.style) {
        (None, None) => BucketAddress::aws(&region, &bucket)?,
        (None, Some(style)) => BucketAddress::new(&BucketAddress::aws_endpoint(&region)?, &bucket, style)?,
        (Some(endpoint), style) => BucketAddress::new(&endpoint, &bucket, style.unwrap_or(AddressingStyle::Path))?,
    };
    let signer = Signer::new(credentials, &region, "s3")?;

    let (Some(method), Some(key)) = (options.method, options.key.as_deref()) else {
        return Err(Failure::usage("missing METHOD or KEY"));
    };
    let mut request = address.object(method, key)?;
    for (name, value) in &options.headers {
        request = request.header(name.as_str(), value.as_str());
    }
    for (name, value) in &options.query {
        request = request.query(name.as_str(), value.as_str());
    }
    let expires = Duration::from_secs(options.expires.unwrap_or(300));
    let at = options.at.unwrap_or_else(time::OffsetDateTime::now_utc);
    let presigned = signer.presign(&request, expires, at)?;

    println!("{}", presigned.url());
    for (name, value) in presigned.headers() {
        println!("{name}: {value}");
    }
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("presign: {}", failure.message);
            if failure.usage {
                eprintln!("\n{USAGE}");
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}
