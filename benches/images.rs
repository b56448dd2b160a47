//! The image pipeline on a 24-megapixel phone photo (feature `images`): the clean full-size JPEG,
//! a 1600-pixel display size and a 256-pixel thumbnail, as [`stowage::images::sanitize`] makes them
//! — on one thread, and on every core at once (criterion's "thrpt" is images per second) — and where
//! the time goes: decoding, turning upright, encoding the full size, resizing and encoding the
//! variants ([`stages`]).
//!
//! ```text
//! cargo bench --features images --bench images
//! # sharp, on the same file in the same run: benches/peers/sharp/run.sh
//! ```
//!
//! The photo is made by `benches/fixtures/make_photo.py` (Pillow, scikit-image, exiftool) into
//! `target/bench-photo-24mp.jpg`, or read from `STOWAGE_BENCH_PHOTO`. Peak memory is measured
//! outside criterion: `benches/peers/sharp/run.sh` runs this binary under `/usr/bin/time -v`, one
//! benchmark per process.

use std::hint::black_box;
use std::io::Cursor;
use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use stowage::images::{ImagePolicy, Variant, sanitize};

fn photo() -> Vec<u8> {
    let path = match std::env::var_os("STOWAGE_BENCH_PHOTO") {
        Some(path) => PathBuf::from(path),
        None => {
            let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let path = root.join("target/bench-photo-24mp.jpg");
            if !path.exists() {
                let status = Command::new("python3")
                    .arg(root.join("benches/fixtures/make_photo.py"))
                    .arg(&path)
                    .status()
                    .expect("python3 (with Pillow and scikit-image) and exiftool make the bench photo");
                assert!(status.success(), "make_photo.py failed");
            }
            path
        }
    };
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// What the bench asks of the pipeline: sharp's peer does the same (JPEG quality 88 at full size,
/// display 1600 at 88, thumbnail 256 at 80).
fn policy() -> ImagePolicy {
    ImagePolicy::new()
        .with_jpeg_quality(88)
        .with_variant(Variant::jpeg("display", 1600, 88))
        .with_variant(Variant::jpeg("thumb", 256, 80))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

fn pipeline(c: &mut Criterion) {
    let bytes = photo();
    let policy = policy();
    let made = sanitize(&bytes, "image/jpeg", &policy).expect("the photo is clean");
    eprintln!(
        "24 MP photo: {} bytes in, clean {}×{} {} bytes, {}",
        bytes.len(),
        made.width,
        made.height,
        made.bytes.len(),
        made.variants
            .iter()
            .map(|v| format!("{} {}×{} {} bytes", v.name, v.width, v.height, v.bytes.len()))
            .collect::<Vec<_>>()
            .join(", ")
    );

    let mut group = c.benchmark_group("images_24mp");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    group.bench_function("one_thread", |b| {
        b.iter(|| black_box(sanitize(black_box(&bytes), "image/jpeg", &policy).expect("clean")));
    });
    let n = cores();
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("all_cores", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for _ in 0..n {
                    scope.spawn(|| black_box(sanitize(&bytes, "image/jpeg", &policy).expect("clean")));
                }
            });
        });
    });
    group.finish();
}

/// Where the time goes. Decoding and encoding are the library calls the pipeline makes; turning
/// upright is the difference between the photo as sent (orientation 6) and the same photo marked
/// upright (orientation 1), both without variants; the variants are the difference the two
/// variants make to the whole.
fn stages(c: &mut Criterion) {
    use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
    use image::{DynamicImage, ImageReader};

    let bytes = photo();
    let upright_bytes = marked_upright(&bytes);
    let decode =
        || ImageReader::new(Cursor::new(&bytes)).with_guessed_format().expect("format").decode().expect("decoded");
    let pixels = decode();
    let encode = |pixels: &DynamicImage, quality: u8| {
        let mut out = Vec::new();
        let (w, h) = (u16::try_from(pixels.width()).expect("w"), u16::try_from(pixels.height()).expect("h"));
        jpeg_encoder::Encoder::new(&mut out, quality)
            .encode(pixels.as_bytes(), w, h, jpeg_encoder::ColorType::Rgb)
            .expect("encoded");
        out
    };
    let resize = |pixels: &DynamicImage, width: u32, height: u32| {
        let mut target = DynamicImage::new(width, height, pixels.color());
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
        Resizer::new().resize(pixels, &mut target, &options).expect("resized");
        target
    };
    let display = resize(&pixels, 1600, 1067);
    let no_variants = ImagePolicy::new().with_jpeg_quality(88);

    let mut group = c.benchmark_group("images_24mp_stages");
    group.sample_size(10);
    group.bench_function("decode", |b| b.iter(|| black_box(decode())));
    group.bench_function("encode_full", |b| b.iter(|| black_box(encode(&pixels, 88))));
    group.bench_function("clean_marked_upright", |b| {
        b.iter(|| black_box(sanitize(&upright_bytes, "image/jpeg", &no_variants).expect("clean")));
    });
    group.bench_function("clean_turned", |b| {
        b.iter(|| black_box(sanitize(&bytes, "image/jpeg", &no_variants).expect("clean")));
    });
    group.bench_function("resize_display", |b| b.iter(|| black_box(resize(&pixels, 1600, 1067))));
    group.bench_function("encode_display", |b| b.iter(|| black_box(encode(&display, 88))));
    group.bench_function("resize_thumb_from_display", |b| b.iter(|| black_box(resize(&display, 256, 171))));
    group.finish();
}

/// `bytes` with its EXIF orientation set to 1 (upright as stored), by exiftool.
fn marked_upright(bytes: &[u8]) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-photo-24mp-upright.jpg");
    std::fs::write(&path, bytes).expect("write");
    let status = Command::new("exiftool")
        .args(["-q", "-overwrite_original", "-n", "-Orientation=1"])
        .arg(&path)
        .status()
        .expect("exiftool");
    assert!(status.success(), "exiftool failed");
    std::fs::read(&path).expect("read")
}

criterion_group!(benches, pipeline, stages);
criterion_main!(benches);
