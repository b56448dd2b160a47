//! The presigned-query builder: a presigned URL's query and canonical request written in one pass,
//! hashed as they are written (the signer's hot path, see the benches).

use std::borrow::Cow;
use std::time::Duration;

use time::OffsetDateTime;

use super::canonical::{self, Canonical};
use super::encode;
use super::output::{PresignedUrl, SigningDetails};
use super::sha::Progressive;
use super::signer::{ALGORITHM, finish};
use super::time::AmzDate;
use super::{Error, Request, Signer};

/// The longest expiry S3 accepts for a presigned URL: 7 days.
pub const MAX_PRESIGN_EXPIRY: Duration = Duration::from_secs(604_800);

/// Checks a presign expiry: 1 s ..= 7 days.
pub(crate) fn check_expiry(expires_in: Duration) -> Result<(), Error> {
    if expires_in < Duration::from_secs(1) || expires_in > MAX_PRESIGN_EXPIRY {
        return Err(Error::ExpiresOutOfRange { seconds: expires_in.as_secs() });
    }
    Ok(())
}

impl Signer {
    pub(super) fn presign_inner(
        &self,
        request: &Request<'_>,
        expires_in: Duration,
        at: OffsetDateTime,
        details: Option<&mut SigningDetails>,
    ) -> Result<PresignedUrl, Error> {
        check_expiry(expires_in)?;
        let amz = AmzDate::new(at)?;
        let amz_date = amz.as_str();
        let canonical = Canonical::new(request, &self.settings)?;
        let payload = canonical::payload_hash(&request.payload_hash())?;

        // Most presigned requests sign `host` alone, the others a few headers: a list on the stack.
        let host_only = [(Cow::Borrowed("host"), canonical.host.as_ref())];
        let mut inline: [(Cow<'_, str>, &str); 8];
        let mut heap: Vec<(Cow<'_, str>, &str)>;
        let headers: &[(Cow<'_, str>, &str)] = if request.headers.is_empty() {
            &host_only
        } else {
            let count = request.headers.len() + 1;
            let list: &mut [(Cow<'_, str>, &str)] = if count <= 8 {
                inline = Default::default();
                &mut inline[..count]
            } else {
                heap = vec![Default::default(); count];
                &mut heap
            };
            for (slot, header) in list.iter_mut().zip(canonical::checked_headers(request)) {
                *slot = header?;
            }
            list[count - 1] = (Cow::Borrowed("host"), &canonical.host);
            // Stable: the values of a repeated header keep their order.
            list.sort_by(|a, b| a.0.cmp(&b.0));
            list
        };
        let mut expires_buf = itoa_buf();
        let expires = format_u64(expires_in.as_secs(), &mut expires_buf);
        // The token is signed only when present and asked for.
        let signed_token: Option<&str> = self.signed_token().and(self.token_query.as_deref().map(String::as_str));

        // The URL starts with the caller's parameters, encoded once, in the caller's order; the
        // canonical request copies them from there in sorted order.
        let mut url = String::with_capacity(
            request.authority.len()
                + request.path.len()
                + request.query.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>() * 3
                + self.token_query.as_deref().map_or(0, |t| t.len() + 22)
                + headers.iter().map(|(k, v)| 2 * k.len() + v.len() + 5).sum::<usize>()
                + 320,
        );
        url.push_str(request.scheme.as_str());
        url.push_str("://");
        url.push_str(&request.authority);
        url.push_str(&request.path);
        url.push('?');
        let mut inline = [(0usize, 0usize, 0usize); 8];
        let mut heap;
        let spans: &mut [(usize, usize, usize)] = if request.query.len() <= inline.len() {
            &mut inline[..request.query.len()]
        } else {
            heap = vec![(0, 0, 0); request.query.len()];
            &mut heap
        };
        canonical::push_query_params(&mut url, &request.query, spans);
        let spans: &[(usize, usize, usize)] = spans;

        let mut details = details;
        let signature = self.with_date(amz_date.get(..8).unwrap_or_default(), |day| {
            // The X-Amz-* parameters go into the URL now, as botocore writes them; the canonical
            // request copies them from there (they are the same text, the token's place aside).
            let block_start = url.len();
            url.push_str(&day.query_prefix);
            url.push_str(amz_date);
            url.push_str("&X-Amz-Expires=");
            url.push_str(expires);
            let expires_end = url.len();
            url.push_str("&X-Amz-SignedHeaders=");
            let names_start = url.len();
            push_signed_names(&mut url, headers, "%3B");
            let block_end = url.len();
            let part = |from: usize, to: usize| url.get(from..to).unwrap_or_default();
            let push_block = |creq: &mut String| match signed_token {
                None => creq.push_str(part(block_start, block_end)),
                Some(token) => {
                    creq.push_str(part(block_start, expires_end));
                    creq.push_str("&X-Amz-Security-Token=");
                    creq.push_str(token);
                    creq.push_str(part(expires_end, block_end));
                }
            };
            let sorted = || spans.iter().map(|span| canonical::query_param(&url, span));

            canonical::with_buffer(|creq| {
                creq.reserve(512 + url.len());
                let mut hash = Progressive::new();
                push_method_line(creq, request.method);
                creq.push_str(&canonical.uri);
                creq.push('\n');
                // The X-Amz-* parameters sort as one block among the caller's, unless a caller's
                // name starts with `X-Amz-` itself (then everything is sorted together).
                if sorted().any(|(name, _)| name.starts_with("X-Amz-")) {
                    let mut all: Vec<(&str, &str)> = sorted().collect();
                    all.extend([
                        ("X-Amz-Algorithm", ALGORITHM),
                        ("X-Amz-Credential", day.credential_query.as_str()),
                        ("X-Amz-Date", amz_date),
                        ("X-Amz-Expires", expires),
                        ("X-Amz-SignedHeaders", part(names_start, block_end)),
                    ]);
                    if let Some(token) = signed_token {
                        all.push(("X-Amz-Security-Token", token));
                    }
                    all.sort_unstable();
                    canonical::push_query(creq, &all);
                } else {
                    let mut before_block = true;
                    for (i, (name, value)) in sorted().enumerate() {
                        if i > 0 {
                            creq.push('&');
                        }
                        if before_block && sorts_after_block(name) {
                            push_block(creq);
                            before_block = false;
                            creq.push('&');
                        }
                        creq.push_str(name);
                        creq.push('=');
                        creq.push_str(value);
                    }
                    if before_block {
                        if !spans.is_empty() {
                            creq.push('&');
                        }
                        push_block(creq);
                    }
                }
                creq.push('\n');
                // The query is most of the canonical request: its blocks are hashed while the
                // headers are written.
                hash.absorb(creq.as_bytes());
                canonical::push_headers(creq, headers);
                creq.push_str("\n\n");
                push_signed_names(creq, headers, ";");
                creq.push('\n');
                creq.push_str(payload.as_str());
                finish(day, amz_date, creq, hash, details.as_deref_mut())
            })
        });

        // Then the token and the signature.
        if let Some(token) = self.token_query.as_deref() {
            url.push_str("&X-Amz-Security-Token=");
            url.push_str(token);
        }
        url.push_str("&X-Amz-Signature=");
        url.push_str(signature.as_str());

        let headers = request.headers.iter().map(|(k, v)| (k.as_ref(), v.as_ref()));
        Ok(PresignedUrl::new(request.method, url, headers, amz.instant(), expires_in.as_secs()))
    }
}

/// Whether a caller's (encoded) parameter name, not starting with `X-Amz-`, sorts after the
/// `X-Amz-*` parameters. Mostly the first byte says it, without a string comparison.
fn sorts_after_block(name: &str) -> bool {
    match name.as_bytes().first() {
        Some(&b) if b != b'X' => b > b'X',
        Some(_) => name > "X-Amz-",
        None => false,
    }
}

/// Appends `METHOD\n` (a constant per method: no copy of a run-time length).
fn push_method_line(out: &mut String, method: super::Method) {
    use super::Method;
    out.push_str(match method {
        Method::Get => "GET\n",
        Method::Put => "PUT\n",
        Method::Post => "POST\n",
        Method::Head => "HEAD\n",
        Method::Delete => "DELETE\n",
        Method::Patch => "PATCH\n",
        Method::Options => "OPTIONS\n",
    });
}

/// Appends the distinct names of sorted `headers` joined by `separator`: `;` in the canonical
/// request, `%3B` in a query (where each name is encoded too).
fn push_signed_names(out: &mut String, headers: &[(Cow<'_, str>, &str)], separator: &str) {
    if let [(name, _)] = headers
        && name == "host"
    {
        // `host` alone, as most presigned requests sign: a constant, nothing to encode.
        out.push_str("host");
        return;
    }
    let mut previous: Option<&str> = None;
    for (name, _) in headers {
        let name = name.as_ref();
        if previous == Some(name) {
            continue;
        }
        if previous.is_some() {
            out.push_str(separator);
        }
        if separator == ";" {
            out.push_str(name);
        } else {
            encode::push_component(out, name);
        }
        previous = Some(name);
    }
}

fn itoa_buf() -> [u8; 20] {
    [0; 20]
}

fn format_u64(mut n: u64, buf: &mut [u8; 20]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        // `n % 10` is below 10.
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 || i == 0 {
            break;
        }
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        let mut b = itoa_buf();
        assert_eq!(format_u64(0, &mut b), "0");
        let mut b = itoa_buf();
        assert_eq!(format_u64(604_800, &mut b), "604800");
        let mut b = itoa_buf();
        assert_eq!(format_u64(u64::MAX, &mut b), "18446744073709551615");
    }
}
