//! The image pipeline on real files (feature `images`): phone photos with GPS and orientation,
//! PNGs with text and trailing bytes, polyglots, floods, damaged and random files, animations,
//! CMYK and 16-bit — made by `tests/fixtures/make_images.py` with Pillow, scikit-image's
//! photographs and exiftool, and checked with those same independent tools.

#![cfg(all(feature = "images", feature = "testing"))]

mod support;

use std::path::Path;

use stowage::images::{ImageFormatOut, ImagePolicy, ImageRefusal, Variant, sanitize};

fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn policy() -> ImagePolicy {
    ImagePolicy::new().with_variant(Variant::jpeg("thumb", 256, 80)).with_variant(Variant::new(
        "display",
        1600,
        1600,
        ImageFormatOut::WebpLossless,
    ))
}

/// Python's answer about an image: Pillow's mode, frame count and PNG bit depth.
fn pillow(bytes: &[u8]) -> (String, u32) {
    let dir = support::servers::TempDir::new("pillow");
    let path = dir.0.join("image");
    std::fs::write(&path, bytes).expect("write");
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sys; from PIL import Image; i = Image.open(sys.argv[1]); print(i.mode, getattr(i, 'n_frames', 1))",
        ])
        .arg(&path)
        .output()
        .expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace();
    (fields.next().unwrap_or_default().to_owned(), fields.next().and_then(|n| n.parse().ok()).unwrap_or(0))
}

const PERSONAL: [&str; 9] = [
    "GPSLatitude",
    "GPSLongitude",
    "Make",
    "Model",
    "DateTimeOriginal",
    "Orientation",
    "Creator",
    "By-line",
    "Comment",
];

#[test]
fn phone_photo_loses_its_metadata_and_stands_upright() {
    let Some(dir) = support::images::fixtures() else { return };
    let original = read(&dir, "gps-orient6.jpg");
    let before = support::images::exif_tags(&original);
    for tag in ["GPSLatitude", "Make", "Orientation", "DateTimeOriginal"] {
        assert!(before.iter().any(|t| t == tag), "the fixture carries {tag}: {before:?}");
    }
    let clean = sanitize(&original, "image/jpeg", &policy()).expect("clean");
    assert_eq!((clean.width, clean.height, clean.content_type.as_str()), (320, 480, "image/jpeg"), "turned upright");
    let after = support::images::exif_tags(&clean.bytes);
    for tag in PERSONAL {
        assert!(!after.iter().any(|t| t == tag), "{tag} survived: {after:?}");
    }
    let (difference, size) = support::images::difference(&clean.bytes, &dir.join("gps-orient6.expected.png"));
    assert_eq!(size, (320, 480));
    assert!(difference < 4.0, "the pixels are Pillow's upright ones (mean difference {difference:.2})");
    // Variants: fit inside, never larger than the image.
    let sizes: Vec<(&str, u32, u32, &str)> =
        clean.variants.iter().map(|v| (v.name.as_str(), v.width, v.height, v.content_type.as_str())).collect();
    assert_eq!(sizes, [("thumb", 171, 256, "image/jpeg"), ("display", 320, 480, "image/webp")]);
    for variant in &clean.variants {
        assert!(!support::images::exif_tags(&variant.bytes).iter().any(|t| PERSONAL.contains(&t.as_str())));
    }
}

#[test]
fn png_loses_text_chunks_and_trailing_bytes() {
    let Some(dir) = support::images::fixtures() else { return };
    let original = read(&dir, "text-trailing.png");
    assert!(original.windows(15).any(|w| w == b"TRAILING-SECRET"));
    let clean = sanitize(&original, "image/png", &policy()).expect("clean");
    assert!(!clean.bytes.windows(15).any(|w| w == b"TRAILING-SECRET"), "trailing bytes gone");
    assert!(!clean.bytes.windows(4).any(|w| w == b"tEXt" || w == b"iTXt" || w == b"zTXt"), "no text chunks");
    let tags = support::images::exif_tags(&clean.bytes);
    assert!(!tags.iter().any(|t| t == "Comment" || t == "Author"), "{tags:?}");
    let (difference, _) = support::images::difference(&clean.bytes, &dir.join("text-trailing.png"));
    assert!(difference < 0.001, "lossless: {difference}");
}

#[test]
fn a_polyglot_loses_its_archive() {
    let Some(dir) = support::images::fixtures() else { return };
    let original = read(&dir, "zip-appended.jpg");
    assert!(original.windows(4).any(|w| w == b"PK\x03\x04"), "the fixture carries a ZIP");
    let clean = sanitize(&original, "image/jpeg", &policy()).expect("clean");
    assert!(!clean.bytes.windows(4).any(|w| w == b"PK\x03\x04" || w == b"PK\x05\x06"), "no ZIP survives");
    assert!(!clean.bytes.windows(8).any(|w| w == b"<script>"), "no HTML survives");
    assert_eq!(pillow(&clean.bytes).0, "RGB");
}

#[test]
fn floods_damage_and_noise_are_refused_in_words() {
    let Some(dir) = support::images::fixtures() else { return };
    let cases = [
        ("pixel-flood.png", "image/png"),
        ("hundred-megapixels.png", "image/png"),
        ("truncated.jpg", "image/jpeg"),
        ("random.png", "image/png"),
        ("many-frames.gif", "image/gif"),
        ("zip-appended.jpg", "image/png"),
    ];
    let mut messages = Vec::new();
    for (name, declared) in cases {
        let refusal = sanitize(&read(&dir, name), declared, &policy()).expect_err(name);
        let message = refusal.user_message();
        assert!(message.len() > 15 && message.ends_with('.'), "{name}: {message}");
        assert!((413..=422).contains(&refusal.http_status()), "{name}: {refusal:?}");
        messages.push((name, refusal, message));
    }
    assert!(matches!(messages[0].1, ImageRefusal::TooLarge { width: 100_000, height: 100_000, .. }));
    assert_eq!(
        messages[0].2,
        "This image is 100000 × 100000 pixels, over the limit of 50 megapixels and 16383 pixels a side."
    );
    assert!(matches!(messages[1].1, ImageRefusal::TooLarge { width: 10_000, height: 10_000, .. }));
    assert!(matches!(messages[2].1, ImageRefusal::Corrupt { .. }), "{:?}", messages[2].1);
    assert_eq!(messages[3].1, ImageRefusal::NotAnImage);
    assert_eq!(messages[4].1, ImageRefusal::TooManyFrames { max: 100 });
    assert!(matches!(messages[5].1, ImageRefusal::OtherFormat { .. }));
}

#[test]
fn animations_keep_their_first_frame() {
    let Some(dir) = support::images::fixtures() else { return };
    for (name, declared) in [("animated.gif", "image/gif"), ("animated.webp", "image/webp")] {
        let original = read(&dir, name);
        assert_eq!(pillow(&original).1, 6, "{name}: six frames in");
        let clean = sanitize(&original, declared, &policy()).expect(name);
        assert!(clean.was_animated);
        assert_eq!((clean.content_type.as_str(), pillow(&clean.bytes).1), (declared, 1), "{name}: one frame out");
    }
    let few = ImagePolicy::new().with_max_frames(3);
    assert_eq!(sanitize(&read(&dir, "animated.gif"), "image/gif", &few), Err(ImageRefusal::TooManyFrames { max: 3 }));
}

#[test]
fn cmyk_and_sixteen_bit_are_handled() {
    let Some(dir) = support::images::fixtures() else { return };
    let cmyk = read(&dir, "cmyk.jpg");
    assert_eq!(pillow(&cmyk).0, "CMYK");
    let clean = sanitize(&cmyk, "image/jpeg", &policy()).expect("CMYK");
    assert_eq!(pillow(&clean.bytes).0, "RGB", "CMYK comes out RGB");
    let sixteen = read(&dir, "sixteen-bit.png");
    let clean = sanitize(&sixteen, "image/png", &policy()).expect("16-bit");
    assert_eq!(clean.bytes[24], 16, "the clean PNG is still 16 bits a sample (IHDR bit depth)");
    let (difference, _) = support::images::difference(&clean.bytes, &dir.join("sixteen-bit.png"));
    assert!(difference < 0.001, "{difference}");
    // The colour profile is kept (it describes colours, not the person); the GPS is not.
    let profiled = read(&dir, "srgb-profile.jpg");
    let clean = sanitize(&profiled, "image/jpeg", &policy()).expect("profiled");
    let tags = support::images::exif_tags(&clean.bytes);
    assert!(tags.iter().any(|t| t == "ProfileDescription"), "the ICC profile is kept: {tags:?}");
    assert!(!tags.iter().any(|t| t == "GPSLatitude"));
    let webp = read(&dir, "photo.webp");
    assert!(support::images::exif_tags(&webp).iter().any(|t| t == "GPSLatitude"));
    let clean = sanitize(&webp, "image/webp", &policy()).expect("webp");
    assert!(!support::images::exif_tags(&clean.bytes).iter().any(|t| PERSONAL.contains(&t.as_str())));
}
