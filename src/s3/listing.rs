//! Listings that follow every page: objects (`ListObjectsV2`), and the page walker the parts and
//! uploads listings share.

use std::borrow::Cow;
use std::future::Future;

use futures_util::TryStreamExt;

use super::S3Storage;
use super::client::Call;
use crate::sigv4::Method;
use crate::storage::{ListOptions, Listing, ObjectMeta};
use crate::wire::{dates, xml};
use crate::{Error, Result};

/// The largest listing page read (1000 keys of 1024 bytes, URL-encoded, fit in well under this).
const MAX_LISTING: usize = 16 * 1024 * 1024;

/// Listings follow at most this many pages (10,000 parts need 10 pages of 1,000; a server that never
/// stops is an error, not a loop).
const MAX_PAGES: usize = 100_000;

/// One page of a listing: its entries, and where the next page starts (`None` on the last).
pub(super) struct Page<T, M> {
    pub(super) entries: Vec<T>,
    pub(super) next: Option<M>,
}

/// A listing whose pages `fetch` reads, from the marker `None` (the first page) on, until a page says
/// it is the last. A page that points back to its own marker is an error, not a loop.
pub(super) fn paged<'a, T, M, F, Fut>(operation: &'static str, mut fetch: F) -> Listing<'a, T>
where
    T: Send + 'a,
    M: PartialEq + Send + 'a,
    F: FnMut(Option<&M>) -> Fut + Send + 'a,
    Fut: Future<Output = Result<Page<T, M>>> + Send + 'a,
{
    // (pages read, the marker of the next page; `None` once the last page was read)
    let state: (usize, Option<Option<M>>) = (0, Some(None));
    let pages = futures_util::stream::try_unfold(state, move |(read, marker)| {
        let page = marker.map(|marker| (fetch(marker.as_ref()), marker));
        async move {
            let Some((page, marker)) = page else { return Ok(None) };
            if read >= MAX_PAGES {
                return Err(Error::InvalidResponse { operation, reason: format!("more than {MAX_PAGES} pages") });
            }
            let page = page.await?;
            let next = match page.next {
                Some(next) if marker.as_ref() == Some(&next) => {
                    return Err(Error::InvalidResponse {
                        operation,
                        reason: "the listing is truncated but its marker does not move on".into(),
                    });
                }
                Some(next) => Some(Some(next)),
                None => None,
            };
            Ok(Some((page.entries, (read + 1, next))))
        }
    });
    Listing::new(pages.map_ok(|entries| futures_util::stream::iter(entries.into_iter().map(Ok))).try_flatten())
}

impl S3Storage {
    /// The objects under `prefix`, every page.
    pub(super) fn objects_under<'a>(&'a self, prefix: &'a str, options: &ListOptions) -> Listing<'a, ObjectMeta> {
        let start_after = options.start_after().map(str::to_owned);
        let subfolders = options.subfolders();
        paged("ListObjectsV2", move |token: Option<&String>| {
            let token = token.cloned();
            let start_after = start_after.clone();
            async move { self.objects_page(prefix, start_after.as_deref(), token.as_deref(), subfolders).await }
        })
    }

    async fn objects_page(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        token: Option<&str>,
        subfolders: bool,
    ) -> Result<Page<ObjectMeta, String>> {
        let page_size = self.inner.page_size.to_string();
        let mut query = vec![
            ("list-type", Cow::Borrowed("2")),
            ("encoding-type", Cow::Borrowed("url")),
            ("max-keys", Cow::Borrowed(page_size.as_str())),
        ];
        if !prefix.is_empty() {
            query.push(("prefix", Cow::Borrowed(prefix)));
        }
        if !subfolders {
            query.push(("delimiter", Cow::Borrowed("/")));
        }
        if let Some(key) = start_after {
            query.push(("start-after", Cow::Borrowed(key)));
        }
        if let Some(token) = token {
            query.push(("continuation-token", Cow::Borrowed(token)));
        }
        let call = Call::new("ListObjectsV2", Method::Get, None).query(query).read_body(MAX_LISTING);
        let answer = self.execute(&call).await?;
        parse_list(answer.body())
    }
}

/// A key from a listing, URL-decoded when the server encoded it (S3 encodes listings like a form:
/// `+` is a space).
pub(super) fn listed_key(operation: &'static str, key: &str, url_encoded: bool) -> Result<String> {
    if !url_encoded {
        return Ok(key.to_owned());
    }
    let plus = key.replace('+', " ");
    percent_encoding::percent_decode_str(&plus)
        .decode_utf8()
        .map(Cow::into_owned)
        .map_err(|_| Error::InvalidResponse { operation, reason: format!("the key {key:?} is not UTF-8 once decoded") })
}

/// Reads a `ListBucketResult` (ListObjectsV2 with `encoding-type=url`).
fn parse_list(body: &[u8]) -> Result<Page<ObjectMeta, String>> {
    const OP: &str = "ListObjectsV2";
    let invalid = |reason: String| Error::InvalidResponse { operation: OP, reason };
    let text = std::str::from_utf8(body).map_err(|_| invalid("the listing is not UTF-8".into()))?;
    let root = xml::parse(text).map_err(invalid)?;
    if root.name != "ListBucketResult" {
        return Err(invalid(format!("expected ListBucketResult, got {}", root.name)));
    }
    let url_encoded = root.text_of("EncodingType").is_some_and(|e| e.eq_ignore_ascii_case("url"));
    let mut entries = Vec::new();
    for entry in root.children("Contents") {
        let key = entry.text_of("Key").ok_or_else(|| invalid("an entry without a Key".into()))?;
        let size = entry
            .text_of("Size")
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| invalid(format!("the entry {key:?} has no readable Size")))?;
        let mut meta = ObjectMeta::new(listed_key(OP, key, url_encoded)?, size);
        meta.etag = entry.text_of("ETag").map(str::to_owned);
        meta.last_modified = entry.text_of("LastModified").and_then(dates::parse_iso8601);
        entries.push(meta);
    }
    let truncated = root.text_of("IsTruncated").is_some_and(|t| t.trim() == "true");
    let next = root.text_of("NextContinuationToken").map(str::to_owned).filter(|_| truncated);
    if truncated && next.is_none() {
        return Err(invalid("the listing is truncated but carries no continuation token".into()));
    }
    Ok(Page { entries, next })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_decode_url_encoded_keys() {
        let doc = br#"<?xml version="1.0" encoding="UTF-8"?>
<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><EncodingType>url</EncodingType>
<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>
<Contents><Key>a+b%2Bc%20d%E2%9C%93</Key><Size>12</Size><ETag>&quot;e&quot;</ETag><LastModified>2024-01-02T03:04:05.000Z</LastModified></Contents>
</ListBucketResult>"#;
        let page = parse_list(doc).unwrap();
        assert_eq!(page.entries[0].key, "a b+c d✓");
        assert_eq!(page.entries[0].size, 12);
        assert_eq!(page.entries[0].etag.as_deref(), Some("\"e\""));
        assert_eq!(page.next.as_deref(), Some("tok"));
        assert!(parse_list(b"<Error/>").is_err());
        assert!(parse_list(b"garbage").is_err());
    }

    #[test]
    fn listed_keys_are_decoded_like_forms() {
        assert_eq!(listed_key("op", "a+b%2Bc", true).unwrap(), "a b+c");
        assert_eq!(listed_key("op", "a+b", false).unwrap(), "a+b");
        assert!(listed_key("op", "%FF", true).is_err());
    }

    #[tokio::test]
    async fn pages_are_followed_and_a_marker_that_stays_is_an_error() {
        // Three pages of two, then the end.
        let listing = paged("op", |marker: Option<&u32>| {
            let at = marker.copied().unwrap_or(0);
            async move { Ok(Page { entries: vec![at * 2, at * 2 + 1], next: (at < 2).then_some(at + 1) }) }
        });
        assert_eq!(listing.all().await.unwrap(), [0, 1, 2, 3, 4, 5]);

        let stuck = paged("op", |_: Option<&u32>| async { Ok(Page { entries: vec![7], next: Some(1) }) });
        let mut stuck = stuck;
        assert_eq!(stuck.try_next().await.unwrap(), Some(7));
        let err = stuck.try_next().await.unwrap_err();
        assert!(err.to_string().contains("does not move on"), "{err}");
        assert_eq!(stuck.try_next().await.unwrap(), None, "a failed listing ends");
    }
}
