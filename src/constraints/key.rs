//! Object keys from untrusted file names.

use std::sync::atomic::{AtomicU64, Ordering};

use unicode_normalization::UnicodeNormalization;

/// The longest sanitised name kept in a key, in characters, extension included.
pub const MAX_NAME_CHARS: usize = 100;

/// The longest sanitised name in bytes of UTF-8: well under the 255 bytes a file name may hold, for
/// the S3-compatible servers that store each key segment as a file.
pub const MAX_NAME_BYTES: usize = 200;

/// The longest extension kept, in characters.
const MAX_EXTENSION_CHARS: usize = 16;

/// Names Windows refuses for files, whatever the extension, as Microsoft's "Naming Files, Paths, and
/// Namespaces" lists them: `CON`, `PRN`, `AUX`, `NUL`, `COM1`–`COM9`, `COM¹`–`COM³`, `LPT1`–`LPT9`
/// and `LPT¹`–`LPT³` (superscript digits). `COM0` and `LPT0`, which that page listed from 2022 to
/// 2024 and which some tools still refuse, are treated the same way: an extra `_` costs nothing.
const WINDOWS_RESERVED: [&str; 30] = [
    "CON",
    "PRN",
    "AUX",
    "NUL",
    "COM0",
    "COM1",
    "COM2",
    "COM3",
    "COM4",
    "COM5",
    "COM6",
    "COM7",
    "COM8",
    "COM9",
    "COM\u{B9}",
    "COM\u{B2}",
    "COM\u{B3}",
    "LPT0",
    "LPT1",
    "LPT2",
    "LPT3",
    "LPT4",
    "LPT5",
    "LPT6",
    "LPT7",
    "LPT8",
    "LPT9",
    "LPT\u{B9}",
    "LPT\u{B2}",
    "LPT\u{B3}",
];

/// Makes an untrusted file name safe to use in an object key and to offer back as a download name,
/// keeping it readable:
///
/// - only the last path component is kept (`../../etc/passwd` → `passwd`; `C:\x\y.png` → `y.png`);
/// - control characters, bidirectional overrides (the `evil\u{202E}gnp.exe` trick) and invisible or
///   blank-looking characters are removed, then Unicode is normalised (NFC), so that `é`, `e` + U+0301
///   and `e` + U+200D + U+0301 give the same key; path separators (and the Unicode characters that look like
///   them) and the characters URLs and shells treat specially (`? # % & * : ; < > | " ' ~ $ !` and the
///   like) become `-`; letters, digits, emoji, spaces and `. - _ ( ) + , @ =` stay;
/// - runs of separators collapse, leading and trailing dots, dashes and spaces go (no hidden files,
///   no `.` or `..`);
/// - Windows reserved names (`CON`, `NUL`, `COM1`, `LPT¹`, …, with or without an extension) get a `_`
///   in front;
/// - the name is cut to 100 characters and 200 bytes, keeping its extension (up to 16 ASCII letters
///   and digits);
/// - an empty result becomes `file`.
///
/// ```
/// use stowage::constraints::sanitize_filename;
/// assert_eq!(sanitize_filename("../../etc/passwd"), "passwd");
/// assert_eq!(sanitize_filename("My Photo (1).JPG"), "My Photo (1).JPG");
/// assert_eq!(sanitize_filename("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
/// assert_eq!(sanitize_filename("CON.txt"), "_CON.txt");
/// ```
#[must_use]
pub fn sanitize_filename(filename: &str) -> String {
    // Cutting a long name can make its end look like an extension (`….-.AA0A`), which a second pass
    // would treat differently: the result is the fixed point, so that sanitising a sanitised name
    // changes nothing (the property tests in tests/names.rs hold it to that). Each pass only shortens
    // the name or leaves it as it is, so this ends within a pass or two.
    let mut name = sanitize_once(filename);
    for _ in 0..8 {
        let again = sanitize_once(&name);
        if again == name {
            break;
        }
        name = again;
    }
    name
}

fn sanitize_once(filename: &str) -> String {
    let last = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    // What is removed goes before normalising: an invisible character between a letter and its
    // combining mark would otherwise keep them apart, and `e\u{200D}\u{301}` and `é` would differ.
    let visible: String = last.chars().filter(|&c| !c.is_control() && !is_invisible(c)).collect();
    let mut cleaned = String::with_capacity(visible.len());
    for c in visible.nfc() {
        let c = if c.is_whitespace() { ' ' } else { c };
        let keep = c.is_alphanumeric()
            || matches!(c, '.' | '-' | '_' | ' ' | '(' | ')' | '+' | ',' | '@' | '=')
            || (!c.is_ascii() && !looks_like_a_separator(c));
        let c = if keep { c } else { '-' };
        // Collapse runs of separators.
        if matches!(c, '-' | ' ' | '.' | '_') && cleaned.ends_with(c) {
            continue;
        }
        cleaned.push(c);
    }
    // Trailing separators go first, so that `.png` keeps its extension and becomes `file.png`.
    let trimmed = cleaned.trim_end_matches(['.', '-', ' ', '_']);
    let (stem, extension) = split_extension(trimmed);
    let stem = stem.trim_matches(['.', '-', ' ', '_']);
    let stem = if stem.is_empty() { "file" } else { stem };
    // Windows refuses `CON`, `CON.txt`, `CON .txt` and `CON.tar.gz` alike: compare up to the first
    // dot, without trailing spaces.
    let base = stem.split('.').next().unwrap_or_default().trim_end();
    let stem = if WINDOWS_RESERVED.iter().any(|r| r.eq_ignore_ascii_case(base)) {
        format!("_{stem}")
    } else {
        stem.to_owned()
    };
    let room_chars = MAX_NAME_CHARS - extension.map_or(0, |e| e.chars().count() + 1);
    let room_bytes = MAX_NAME_BYTES - extension.map_or(0, |e| e.len() + 1);
    let mut used = 0;
    let stem: String = stem
        .chars()
        .take(room_chars)
        .take_while(|c| {
            used += c.len_utf8();
            used <= room_bytes
        })
        .collect();
    let stem = stem.trim_end_matches(['.', '-', ' ', '_']);
    match extension {
        Some(ext) => format!("{stem}.{ext}"),
        None => stem.to_owned(),
    }
}

/// Splits `name.ext` when the extension is 1 to 16 ASCII letters and digits.
fn split_extension(name: &str) -> (&str, Option<&str>) {
    match name.rsplit_once('.') {
        Some((stem, ext))
            if !ext.is_empty()
                && ext.chars().count() <= MAX_EXTENSION_CHARS
                && ext.bytes().all(|b| b.is_ascii_alphanumeric()) =>
        {
            (stem, Some(ext))
        }
        _ => (name, None),
    }
}

/// Characters that display like `/` or `\\`.
fn looks_like_a_separator(c: char) -> bool {
    matches!(c, '\u{2044}' | '\u{2215}' | '\u{29F8}' | '\u{29F9}' | '\u{FF0F}' | '\u{FF3C}' | '\u{FE68}')
}

/// Unicode's default-ignorable code points (bidirectional controls, zero-width characters, joiners,
/// variation selectors, the BOM, tag characters) and the blank-looking Hangul fillers: characters that
/// make a name display differently from what it is.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF0}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// 128 random bits from the operating system's generator as 26 lowercase base32 characters, never
/// the same twice in a process.
#[must_use]
pub fn unique_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut bits = (u128::from(crate::random::random_u64()) << 64) | u128::from(crate::random::random_u64());
    // The counter in the low bits: distinct even if two random draws ever collided.
    bits ^= u128::from(count);
    const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
    (0..26)
        .map(|i| {
            let shift = 128u32.saturating_sub(5 * (i + 1));
            char::from(ALPHABET[((bits >> shift) & 0x1f) as usize])
        })
        .collect()
}

/// A collision-free key for an upload of `filename` under `prefix`: `<prefix><unique id>/<sanitised
/// name>`. The unique part keeps two uploads of `photo.jpg` apart; the name stays readable for
/// listings and downloads.
///
/// Why not `uploads/${Date.now()}-${filename}`: two uploads in the same millisecond overwrite each
/// other; `../` and `/` in the name escape the prefix or create folders; control characters and
/// bidirectional overrides make `evil\u{202E}gnp.exe` display as `evilexe.png`; `.` and `..` segments
/// are rewritten by browsers, so the presigned URL no longer matches its signature; a long name
/// pushes the key past S3's 1024 bytes; `é` written two ways gives two different keys; and a name
/// like `CON` cannot be saved on Windows.
///
/// ```
/// let key = stowage::constraints::safe_key("uploads/", "../../My Photo.png");
/// assert!(key.starts_with("uploads/") && key.ends_with("/My Photo.png"));
/// assert!(!key.contains(".."));
/// ```
#[must_use]
pub fn safe_key(prefix: &str, filename: &str) -> String {
    format!("{prefix}{}/{}", unique_id(), sanitize_filename(filename))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_ids_differ_and_are_url_safe() {
        let ids: std::collections::HashSet<String> = (0..10_000).map(|_| unique_id()).collect();
        assert_eq!(ids.len(), 10_000);
        assert!(
            ids.iter().all(|id| id.len() == 26 && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()))
        );
    }

    #[test]
    fn extensions_are_kept_when_names_are_cut() {
        let name = sanitize_filename(&format!("{}.jpeg", "a".repeat(300)));
        assert_eq!(name.chars().count(), MAX_NAME_CHARS);
        assert!(name.ends_with(".jpeg"));
        let name = sanitize_filename(&format!("{}.jpeg", "😀".repeat(300)));
        assert!(name.len() <= MAX_NAME_BYTES && name.ends_with(".jpeg"), "{name}");
        assert_eq!(sanitize_filename("a\u{FF0F}b\u{2215}c.txt"), "a-b-c.txt");
        assert_eq!(sanitize_filename("no\u{A0}break\u{3000}space.txt"), "no break space.txt");
        assert_eq!(sanitize_filename("CON.tar.gz"), "_CON.tar.gz");
        assert_eq!(sanitize_filename("nul.txt.png"), "_nul.txt.png");
        assert_eq!(sanitize_filename("\u{3164}.png"), "file.png");
        assert_eq!(sanitize_filename("a\u{E0041}\u{FE0F}b.txt"), "ab.txt");
        assert_eq!(sanitize_filename("archive.tar.gz"), "archive.tar.gz");
        assert_eq!(sanitize_filename("weird.ext with space"), "weird.ext with space");
    }

    /// Found by the independent check: what is removed went after normalising, so an invisible
    /// character between a letter and its combining mark kept them apart.
    #[test]
    fn invisible_characters_between_a_letter_and_its_mark_give_one_spelling() {
        let nfc = "caf\u{E9}.txt";
        for invisible in ['\u{200D}', '\u{034F}', '\u{FEFF}', '\u{2066}', '\u{3164}', '\u{200B}', '\u{E0001}'] {
            let name = format!("cafe{invisible}\u{301}.txt");
            assert_eq!(sanitize_filename(&name), nfc, "{invisible:?}");
        }
        assert_eq!(sanitize_filename("cafe\u{301}.txt"), nfc);
        // Hangul jamo kept apart by a filler compose once it is gone.
        assert_eq!(sanitize_filename("\u{1100}\u{115F}\u{1161}"), "\u{AC00}");
    }

    /// Microsoft's list has superscript-digit device names too.
    #[test]
    fn windows_reserved_names_follow_microsofts_list() {
        for name in ["COM\u{B9}", "com\u{B2}.txt", "LPT\u{B3}.tar.gz", "lpt\u{B9} .png", "COM0", "Lpt9.doc", "aux"] {
            let safe = sanitize_filename(name);
            assert!(safe.starts_with('_'), "{name:?} -> {safe:?}");
        }
        for name in ["COM10.txt", "LPT\u{B4}", "CONSOLE.txt", "nullable", "COM"] {
            assert!(!sanitize_filename(name).starts_with('_'), "{name:?}");
        }
    }
}
