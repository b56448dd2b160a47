//! The two date formats S3 speaks: HTTP dates in headers and ISO 8601 in XML.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

fn month(name: &str) -> Option<Month> {
    Some(match name {
        "Jan" => Month::January,
        "Feb" => Month::February,
        "Mar" => Month::March,
        "Apr" => Month::April,
        "May" => Month::May,
        "Jun" => Month::June,
        "Jul" => Month::July,
        "Aug" => Month::August,
        "Sep" => Month::September,
        "Oct" => Month::October,
        "Nov" => Month::November,
        "Dec" => Month::December,
        _ => return None,
    })
}

fn hms(text: &str) -> Option<Time> {
    let mut parts = text.splitn(3, ':');
    let h = parts.next()?.parse().ok()?;
    let m = parts.next()?.parse().ok()?;
    let s: u8 = parts.next()?.parse().ok()?;
    // HTTP allows a leap second; time does not.
    Time::from_hms(h, m, s.min(59)).ok()
}

/// `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 IMF-fixdate), as in `Date` and `Last-Modified`.
pub(crate) fn parse_http_date(text: &str) -> Option<OffsetDateTime> {
    let mut parts = text.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let day: u8 = parts.next()?.parse().ok()?;
    let month = month(parts.next()?)?;
    let year: i32 = parts.next()?.parse().ok()?;
    let time = hms(parts.next()?)?;
    if parts.next()? != "GMT" {
        return None;
    }
    let date = Date::from_calendar_date(year, month, day).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

/// `2009-10-12T17:50:30.000Z`, as in `<LastModified>`.
pub(crate) fn parse_iso8601(text: &str) -> Option<OffsetDateTime> {
    let text = text.trim().strip_suffix('Z')?;
    let (date, time) = text.split_once('T')?;
    let mut d = date.splitn(3, '-');
    let year: i32 = d.next()?.parse().ok()?;
    let month: u8 = d.next()?.parse().ok()?;
    let day: u8 = d.next()?.parse().ok()?;
    let whole = time.split('.').next()?;
    let date = Date::from_calendar_date(year, Month::try_from(month).ok()?, day).ok()?;
    Some(PrimitiveDateTime::new(date, hms(whole)?).assume_utc())
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
