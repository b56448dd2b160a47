//! `Content-Disposition`: the name a browser saves a download under, for any file name.

/// How a browser should present a download.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disposition {
    /// Save as a file.
    Attachment,
    /// Display in the browser when it can.
    Inline,
}

/// A `Content-Disposition` value for `filename` that every browser reads right: an ASCII fallback
/// `filename="…"` (quotes and backslashes escaped, non-ASCII replaced by `_`) and, when the name is not
/// plain ASCII, the exact name as `filename*=UTF-8''…` (RFC 6266 and RFC 5987). Path separators and
/// control characters are removed from the name.
///
/// ```
/// use stowage::{content_disposition, Disposition};
/// assert_eq!(content_disposition(Disposition::Attachment, "report.pdf"), "attachment; filename=\"report.pdf\"");
/// assert_eq!(
///     content_disposition(Disposition::Attachment, "résumé \"final\".pdf"),
///     "attachment; filename=\"r_sum_ \\\"final\\\".pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
/// );
/// ```
#[must_use]
pub fn content_disposition(disposition: Disposition, filename: &str) -> String {
    let kind = match disposition {
        Disposition::Attachment => "attachment",
        Disposition::Inline => "inline",
    };
    // The last path component, without controls: a header value must not carry them, and a browser
    // must not be told a directory.
    let name: String =
        filename.rsplit(['/', '\\']).next().unwrap_or_default().chars().filter(|c| !c.is_control()).collect();
    let name = if name.trim().is_empty() { "download".to_owned() } else { name };
    let mut fallback = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '"' | '\\' => {
                fallback.push('\\');
                fallback.push(c);
            }
            ' '..='~' => fallback.push(c),
            _ => fallback.push('_'),
        }
    }
    let mut out = format!("{kind}; filename=\"{fallback}\"");
    if !name.chars().all(|c| (' '..='~').contains(&c)) || name.contains(['"', '\\']) {
        out.push_str("; filename*=UTF-8''");
        // RFC 5987 attr-char: ALPHA DIGIT ! # $ & + - . ^ _ ` | ~ ; everything else percent-encoded.
        for b in name.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                out.push(char::from(b));
            } else {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_disposition_fallbacks() {
        assert_eq!(content_disposition(Disposition::Inline, "a b.txt"), "inline; filename=\"a b.txt\"");
        assert_eq!(
            content_disposition(Disposition::Attachment, "../../etc/пароль.txt"),
            "attachment; filename=\"______.txt\"; filename*=UTF-8''%D0%BF%D0%B0%D1%80%D0%BE%D0%BB%D1%8C.txt"
        );
        assert_eq!(content_disposition(Disposition::Attachment, "a\r\nb"), "attachment; filename=\"ab\"");
        assert_eq!(content_disposition(Disposition::Attachment, "/"), "attachment; filename=\"download\"");
        assert_eq!(
            content_disposition(Disposition::Attachment, "😀"),
            "attachment; filename=\"_\"; filename*=UTF-8''%F0%9F%98%80"
        );
    }
}
