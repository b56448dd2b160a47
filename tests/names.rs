//! Property tests over hostile file names: whatever a client sends as a file name, `sanitize_filename`
//! returns one spelling (NFC, the same for every way of writing it), within its limits, never a
//! reserved or hidden name, and stable when applied again; `safe_key` always yields a key that goes
//! through a presigned URL as plain ASCII and comes back exact.

#![cfg(feature = "constraints")]

use std::time::Duration;

use proptest::prelude::*;
use stowage::Credentials;
use stowage::constraints::{MAX_NAME_BYTES, MAX_NAME_CHARS, safe_key, sanitize_filename};
use stowage::sigv4::{BucketAddress, Method, Signer};
use unicode_normalization::UnicodeNormalization;

/// Microsoft's reserved device names ("Naming Files, Paths, and Namespaces"), written out here
/// independently of the crate's list.
fn is_reserved(base: &str) -> bool {
    let upper = base.to_uppercase();
    matches!(upper.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || ["COM", "LPT"].iter().any(|p| {
            upper.strip_prefix(p).is_some_and(|n| {
                let mut chars = n.chars();
                matches!((chars.next(), chars.next()), (Some('1'..='9' | '¹' | '²' | '³'), None))
            })
        })
}

/// Characters that make names display differently from what they are: Unicode's default-ignorable
/// code points (a sample of every block) and the Hangul fillers.
const INVISIBLE: &[char] = &[
    '\u{00AD}',
    '\u{034F}',
    '\u{061C}',
    '\u{115F}',
    '\u{1160}',
    '\u{17B4}',
    '\u{180B}',
    '\u{180E}',
    '\u{200B}',
    '\u{200C}',
    '\u{200D}',
    '\u{200E}',
    '\u{200F}',
    '\u{202A}',
    '\u{202E}',
    '\u{2060}',
    '\u{2066}',
    '\u{2069}',
    '\u{3164}',
    '\u{FE00}',
    '\u{FE0F}',
    '\u{FEFF}',
    '\u{FFA0}',
    '\u{1BCA0}',
    '\u{1D173}',
    '\u{E0001}',
    '\u{E0041}',
    '\u{E01EF}',
];

/// Combining marks of several scripts, and Hangul jamo that compose.
const MARKS: &[char] = &[
    '\u{0300}', '\u{0301}', '\u{0302}', '\u{0303}', '\u{0308}', '\u{030A}', '\u{0323}', '\u{0327}', '\u{0338}',
    '\u{05B4}', '\u{093C}', '\u{0B3E}', '\u{0CD5}', '\u{3099}', '\u{309A}', '\u{1161}', '\u{1175}', '\u{11A8}',
];

const BASES: &[char] = &[
    'a',
    'e',
    'o',
    'A',
    'C',
    'O',
    'N',
    'L',
    'P',
    'T',
    'M',
    'U',
    'X',
    'R',
    'c',
    'n',
    'l',
    'p',
    't',
    '1',
    '3',
    '9',
    '¹',
    '²',
    '³',
    '0',
    'é',
    'ß',
    'İ',
    'ﬁ',
    'ǅ',
    'か',
    'ン',
    '\u{1100}',
    '\u{0B47}',
    'ᄀ',
    '가',
    'Ω',
    'Å',
    '😀',
    '👩',
    '\u{1F3FD}',
];

const PUNCTUATION: &[char] = &[
    '.', '.', '.', ' ', ' ', '-', '_', '/', '\\', ':', '?', '#', '%', '*', '"', '<', '>', '|', '~', '$', '\t', '\n',
    '\r', '\0', '\u{7F}', '\u{85}', '\u{A0}', '\u{2028}', '\u{3000}', '\u{2215}', '\u{FF0F}', '\u{2044}',
];

/// Names built from the pieces above, interleaved: letters, marks, invisibles, separators.
fn hostile_name() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::sample::select(BASES).prop_map(String::from),
        3 => proptest::sample::select(MARKS).prop_map(String::from),
        3 => proptest::sample::select(INVISIBLE).prop_map(String::from),
        3 => proptest::sample::select(PUNCTUATION).prop_map(String::from),
        1 => prop_oneof![
            Just("CON".to_owned()),
            Just("nul".to_owned()),
            Just("COM\u{B9}".to_owned()),
            Just("lpt\u{B3}".to_owned()),
            Just("LPT9".to_owned()),
            Just(".png".to_owned()),
            Just(".tar.gz".to_owned()),
            Just("..".to_owned()),
        ],
    ];
    proptest::collection::vec(piece, 0..60).prop_map(|pieces| pieces.concat())
}

/// Any text at all, long names included.
fn any_name() -> impl Strategy<Value = String> {
    prop_oneof![hostile_name(), "\\PC{0,300}", ".{0,120}", "[a-zA-Z0-9 ._-]{90,400}", "\\PC{0,40}[.][a-z0-9]{1,20}"]
}

fn check_safe(name: &str, input: &str) -> Result<(), TestCaseError> {
    prop_assert!(!name.is_empty(), "{input:?} gave an empty name");
    prop_assert!(name.chars().count() <= MAX_NAME_CHARS, "{input:?} -> {name:?}: too many characters");
    prop_assert!(name.len() <= MAX_NAME_BYTES, "{input:?} -> {name:?}: too many bytes");
    prop_assert!(unicode_normalization::is_nfc(name), "{input:?} -> {name:?} is not NFC");
    prop_assert!(name != "." && name != ".." && !name.starts_with('.'), "{input:?} -> {name:?}: a dot name");
    prop_assert!(!name.ends_with(['.', ' ']), "{input:?} -> {name:?}: Windows drops a trailing dot or space");
    prop_assert!(!name.contains(['/', '\\']), "{input:?} -> {name:?}: a path separator");
    prop_assert!(!name.chars().any(char::is_control), "{input:?} -> {name:?}: a control character");
    prop_assert!(!name.chars().any(|c| INVISIBLE.contains(&c)), "{input:?} -> {name:?}: an invisible character");
    let base = name.split('.').next().unwrap_or_default().trim_end();
    prop_assert!(!is_reserved(base), "{input:?} -> {name:?}: a Windows device name");
    Ok(())
}

fn signer() -> (Signer, BucketAddress) {
    let signer = Signer::new(Credentials::new("AKIDEXAMPLE", "secret"), "auto", "s3").expect("signer");
    let bucket = BucketAddress::new(
        "https://0123456789abcdef.r2.cloudflarestorage.com",
        "uploads",
        stowage::sigv4::AddressingStyle::Path,
    )
    .expect("bucket");
    (signer, bucket)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn sanitised_names_are_safe_normal_and_stable(input in any_name()) {
        let name = sanitize_filename(&input);
        check_safe(&name, &input)?;
        prop_assert_eq!(sanitize_filename(&name), name.clone(), "not idempotent for {:?}", input);
    }

    #[test]
    fn one_spelling_whatever_the_normal_form_or_the_invisibles(
        input in hostile_name(),
        invisibles in proptest::collection::vec((any::<proptest::sample::Index>(), proptest::sample::select(INVISIBLE)), 0..8),
    ) {
        let name = sanitize_filename(&input);
        let nfd: String = input.nfd().collect();
        prop_assert_eq!(sanitize_filename(&nfd), name.clone(), "NFD of {:?}", input);
        let nfc: String = input.nfc().collect();
        prop_assert_eq!(sanitize_filename(&nfc), name.clone(), "NFC of {:?}", input);
        // Invisible characters anywhere, between a letter and its mark included, change nothing.
        let mut chars: Vec<char> = input.chars().collect();
        for (at, c) in invisibles {
            let at = at.index(chars.len() + 1);
            chars.insert(at, c);
        }
        let spiked: String = chars.into_iter().collect();
        prop_assert_eq!(sanitize_filename(&spiked), name, "with invisibles: {:?}", spiked);
    }

    #[test]
    fn safe_keys_round_trip_through_presigned_urls_as_ascii(
        input in any_name(),
        prefix in "|uploads/|user-42/avatars/|[a-z0-9]{1,10}/",
    ) {
        let key = safe_key(&prefix, &input);
        prop_assert!(key.starts_with(prefix.as_str()));
        prop_assert!(key.len() <= 1024);
        prop_assert!(!key.split('/').any(|s| s == "." || s == ".."), "{key:?} has a dot segment");
        let (signer, bucket) = signer();
        let at = time::OffsetDateTime::from_unix_timestamp(1_700_000_000).expect("time");
        let request = bucket.object(Method::Put, &key).expect("a safe key is a valid key");
        let presigned = signer.presign(&request, Duration::from_secs(300), at).expect("presign");
        let url = presigned.url();
        prop_assert!(url.bytes().all(|b| b.is_ascii_graphic()), "{url:?} is not plain ASCII");
        let path = url.split('?').next().unwrap_or_default();
        let path = path.strip_prefix("https://0123456789abcdef.r2.cloudflarestorage.com/uploads/").expect("path-style");
        let decoded = percent_encoding::percent_decode_str(path).decode_utf8().expect("UTF-8");
        prop_assert_eq!(decoded.as_ref(), key.as_str());
        // And as a browser's URL parser reads it: nothing rewritten.
        let parsed = url::Url::parse(url).expect("a URL");
        prop_assert_eq!(parsed.path(), format!("/uploads/{path}"));
    }
}

#[test]
fn the_reserved_list_here_matches_microsofts_examples() {
    for name in ["CON", "nul", "COM1", "com9", "COM\u{B9}", "LPT\u{B3}", "lpt5"] {
        assert!(is_reserved(name), "{name}");
    }
    for name in ["CONSOLE", "COM10", "LPT", "COM\u{B4}", "aux1", "file"] {
        assert!(!is_reserved(name), "{name}");
    }
}
