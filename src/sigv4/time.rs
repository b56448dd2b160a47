//! The signing time, written as SigV4 wants it.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

use super::Error;

/// A UTC instant in ISO 8601 basic format, `YYYYMMDDTHHMMSSZ`, as used in `X-Amz-Date`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct AmzDate {
    text: [u8; 16],
    instant: OffsetDateTime,
}

impl AmzDate {
    /// Converts any offset to UTC and formats it; fails for years outside 0000..=9999.
    pub(crate) fn new(at: OffsetDateTime) -> Result<Self, Error> {
        let utc = at.checked_to_offset(UtcOffset::UTC).ok_or(Error::TimeOutOfRange)?;
        let year = utc.year();
        if !(0..=9999).contains(&year) {
            return Err(Error::TimeOutOfRange);
        }
        let mut text = *b"00000000T000000Z";
        // `year` is within 0..=9999 here, so the conversion cannot fail.
        let year = u32::try_from(year).map_err(|_| Error::TimeOutOfRange)?;
        put_digits(&mut text[0..4], year);
        put_digits(&mut text[4..6], u32::from(u8::from(utc.month())));
        put_digits(&mut text[6..8], u32::from(utc.day()));
        put_digits(&mut text[9..11], u32::from(utc.hour()));
        put_digits(&mut text[11..13], u32::from(utc.minute()));
        put_digits(&mut text[13..15], u32::from(utc.second()));
        Ok(Self { text, instant: utc.replace_nanosecond(0).unwrap_or(utc) })
    }

    /// `YYYYMMDDTHHMMSSZ`.
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII digits, `T` and `Z` are ever written.
        std::str::from_utf8(&self.text).unwrap_or_default()
    }

    /// `YYYYMMDD`, the date part used in the credential scope.
    pub(crate) fn date(&self) -> &str {
        self.as_str().get(..8).unwrap_or_default()
    }

    /// The same instant, whole seconds, UTC.
    pub(crate) fn instant(&self) -> OffsetDateTime {
        self.instant
    }
}

fn put_digits(out: &mut [u8], mut value: u32) {
    for slot in out.iter_mut().rev() {
        // `value % 10` is below 10, so it fits in a byte.
        *slot = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Writes `at` as an ISO 8601 basic UTC timestamp, `20130524T000000Z` (the `X-Amz-Date` format).
///
/// # Errors
///
/// [`Error::TimeOutOfRange`] for years outside 0000..=9999.
///
/// ```
/// let t = stowage::sigv4::parse_amz_date("20130524T000000Z")?;
/// assert_eq!(stowage::sigv4::format_amz_date(t)?, "20130524T000000Z");
/// # Ok::<(), stowage::sigv4::Error>(())
/// ```
pub fn format_amz_date(at: OffsetDateTime) -> Result<String, Error> {
    Ok(AmzDate::new(at)?.as_str().to_owned())
}

/// Parses an ISO 8601 basic UTC timestamp such as `20130524T000000Z` (the `X-Amz-Date` format).
///
/// # Errors
///
/// [`Error::InvalidTimestamp`] when the text is not exactly `YYYYMMDDTHHMMSSZ` or names no real instant.
///
/// ```
/// let t = stowage::sigv4::parse_amz_date("20130524T000000Z")?;
/// assert_eq!(t.unix_timestamp(), 1_369_353_600);
/// # Ok::<(), stowage::sigv4::Error>(())
/// ```
pub fn parse_amz_date(text: &str) -> Result<OffsetDateTime, Error> {
    let invalid = || Error::InvalidTimestamp { input: text.chars().take(40).collect() };
    let b = text.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(invalid());
    }
    let num = |range: std::ops::Range<usize>| -> Result<u32, Error> {
        let digits = b.get(range).ok_or_else(invalid)?;
        digits.iter().try_fold(0u32, |acc, d| {
            if d.is_ascii_digit() { Ok(acc * 10 + u32::from(d - b'0')) } else { Err(invalid()) }
        })
    };
    let year = i32::try_from(num(0..4)?).map_err(|_| invalid())?;
    let month = u8::try_from(num(4..6)?).ok().and_then(|m| Month::try_from(m).ok()).ok_or_else(invalid)?;
    let day = u8::try_from(num(6..8)?).map_err(|_| invalid())?;
    let hour = u8::try_from(num(9..11)?).map_err(|_| invalid())?;
    let minute = u8::try_from(num(11..13)?).map_err(|_| invalid())?;
    let second = u8::try_from(num(13..15)?).map_err(|_| invalid())?;
    let date = Date::from_calendar_date(year, month, day).map_err(|_| invalid())?;
    let time = Time::from_hms(hour, minute, second).map_err(|_| invalid())?;
    Ok(PrimitiveDateTime::new(date, time).assume_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_and_converts_offsets() {
        let t = parse_amz_date("20150830T123600Z").map(AmzDate::new);
        assert_eq!(t.ok().and_then(Result::ok).map(|d| d.as_str().to_owned()).as_deref(), Some("20150830T123600Z"));
        let offset = UtcOffset::from_hms(2, 0, 0).ok();
        let local = parse_amz_date("20150830T003600Z").ok().zip(offset).map(|(t, o)| t.to_offset(o));
        let again = local.map(AmzDate::new).and_then(Result::ok);
        assert_eq!(again.map(|d| d.date().to_owned()).as_deref(), Some("20150830"));
    }

    #[test]
    fn rejects_bad_text() {
        for bad in
            ["", "20150830T123600", "2015-08-30T12:36:00Z", "20151330T123600Z", "20150830T246000Z", "2015083OT123600Z"]
        {
            assert!(parse_amz_date(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rejects_years_outside_four_digits() {
        let early = Date::from_calendar_date(-1, Month::January, 1).map(|d| d.midnight().assume_utc());
        assert_eq!(early.map(AmzDate::new).ok(), Some(Err(Error::TimeOutOfRange)));
    }
}
