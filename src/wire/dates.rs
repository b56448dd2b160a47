//! The two date formats S3 speaks: HTTP dates in headers and ISO 8601 in XML.

use time::OffsetDateTime;
use time::format_description::well_known::{Rfc2822, Rfc3339};

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 IMF-fixdate), as in `Date` and `Last-Modified`.
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim();
    // IMF-fixdate is RFC 2822's syntax with the zone always GMT.
    if !text.ends_with(" GMT") {
        return None;
    }
    OffsetDateTime::parse(text, &Rfc2822).ok()
}

/// `2009-10-12T17:50:30.000Z`, as in `<LastModified>` (RFC 3339).
pub(crate) fn parse_iso8601(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text.trim(), &Rfc3339).ok()
}

/// `2026-11-24T13:05:00Z` (UTC, whole seconds), as in POST policies and messages.
pub(crate) fn format_iso8601(at: OffsetDateTime) -> String {
    let at = at.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_dates() {
        let t = parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(t.unix_timestamp(), 784_111_777);
        assert!(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT").is_none());
        assert!(parse_http_date("Sun, 06 Nov 1994 08:49:37 PST").is_none());
        assert!(parse_http_date("").is_none());
    }

    #[test]
    fn iso_format() {
        let t = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        assert_eq!(format_iso8601(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(parse_iso8601("2009-10-12T17:50:30.000Z").unwrap().unix_timestamp(), 1_255_369_830);
        assert_eq!(parse_iso8601("2009-10-12T17:50:30Z").unwrap().unix_timestamp(), 1_255_369_830);
        assert!(parse_iso8601("2009-13-12T17:50:30Z").is_none());
    }
}
