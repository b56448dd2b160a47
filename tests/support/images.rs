//! Image fixtures: made once per checkout by `tests/fixtures/make_images.py` (Pillow, scikit-image's
//! photographs, exiftool) into `target/image-fixtures`, and read by the image tests.

use std::path::PathBuf;
use std::process::Command;

/// Whether Python with Pillow and scikit-image, and exiftool, are here (required under CI).
pub fn tools_available() -> bool {
    let python = Command::new("python3").args(["-c", "import PIL, skimage, numpy"]).status().is_ok_and(|s| s.success());
    let exiftool = Command::new("exiftool").arg("-ver").output().is_ok_and(|o| o.status.success());
    super::available(
        "image_tools",
        python && exiftool,
        "python3 -m pip install pillow scikit-image; apt-get install libimage-exiftool-perl",
    )
}

/// The fixtures directory, made if it is not there yet (in a directory of its own, renamed into
/// place, so that test binaries running at once never see half of it).
pub fn fixtures() -> Option<PathBuf> {
    static MADE: std::sync::OnceLock<Option<PathBuf>> = std::sync::OnceLock::new();
    MADE.get_or_init(make).clone()
}

fn make() -> Option<PathBuf> {
    if !tools_available() {
        return None;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("tests/fixtures/make_images.py");
    let version = std::fs::metadata(&script).map(|m| m.len()).unwrap_or(0);
    let dir = root.join(format!("target/image-fixtures-{version}"));
    if dir.join("done").exists() {
        return Some(dir);
    }
    let work = root.join(format!("target/image-fixtures-{version}.{}", std::process::id()));
    let status = Command::new("python3").arg(&script).arg(&work).status().expect("run make_images.py");
    assert!(status.success(), "make_images.py failed");
    std::fs::write(work.join("done"), b"").expect("mark");
    if std::fs::rename(&work, &dir).is_err() {
        // Another test binary made them first.
        let _ = std::fs::remove_dir_all(&work);
    }
    Some(dir)
}

/// What exiftool reads in `bytes`: its tag names (`GPSLatitude`, `Orientation`, `Make`, …).
pub fn exif_tags(bytes: &[u8]) -> Vec<String> {
    let dir = super::servers::TempDir::new("exiftool");
    let path = dir.0.join("image");
    std::fs::write(&path, bytes).expect("write");
    let out = Command::new("exiftool").args(["-s", "-G0", "-a"]).arg(&path).output().expect("exiftool");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        // `[Group]   Tag : value`
        .filter_map(|line| line.split(':').next().and_then(|tag| tag.split_whitespace().last()).map(str::to_owned))
        .collect()
}

/// The mean difference, per channel and pixel (0–255), between `bytes` and the image at `expected`,
/// as Pillow reads both (and the size of `bytes`' image).
pub fn difference(bytes: &[u8], expected: &std::path::Path) -> (f64, (u32, u32)) {
    let dir = super::servers::TempDir::new("compare");
    let path = dir.0.join("image");
    std::fs::write(&path, bytes).expect("write");
    let script = r#"
import sys
import numpy as np
from PIL import Image
a = Image.open(sys.argv[1]).convert("RGB")
b = Image.open(sys.argv[2]).convert("RGB")
if a.size != b.size:
    print(255.0, a.size[0], a.size[1])
else:
    print(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)).mean(), a.size[0], a.size[1])
"#;
    let out = Command::new("python3").args(["-c", script]).arg(&path).arg(expected).output().expect("python3");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(f64::NAN);
    (number(0), (number(1) as u32, number(2) as u32))
}
