//! What the image pipeline allows and makes: bounds, quality, variants, and its refusals.

use std::fmt;

/// The bounds and outputs of the image pipeline ([`sanitize`](super::sanitize)).
///
/// The defaults are as strict as `sharp`'s or stricter: at most 16,383 pixels a side (`sharp`'s),
/// at most 50 megapixels in all (a 48–50 MP phone photo passes; `sharp` allows 268), at most 100
/// frames counted in an animation, 512 MiB for the decoder, 64 MiB of file. JPEG quality 88.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct ImagePolicy {
    max_side: u32,
    max_pixels: u64,
    max_frames: u32,
    max_decoder_bytes: u64,
    max_bytes: u64,
    jpeg_quality: u8,
    variants: Vec<Variant>,
}

impl Default for ImagePolicy {
    fn default() -> Self {
        Self {
            max_side: 16_383,
            max_pixels: 50_000_000,
            max_frames: 100,
            max_decoder_bytes: 512 * 1024 * 1024,
            max_bytes: 64 * 1024 * 1024,
            jpeg_quality: 88,
            variants: Vec::new(),
        }
    }
}

impl ImagePolicy {
    /// The defaults, and no variants.
    pub fn new() -> Self {
        Self::default()
    }

    /// The most pixels an image may have on a side (default 16,383).
    pub fn with_max_side(mut self, pixels: u32) -> Self {
        self.max_side = pixels;
        self
    }

    /// The most pixels an image may have in all (default 50,000,000).
    pub fn with_max_pixels(mut self, pixels: u64) -> Self {
        self.max_pixels = pixels;
        self
    }

    /// The most frames an animation may have (default 100; its first frame is kept).
    pub fn with_max_frames(mut self, frames: u32) -> Self {
        self.max_frames = frames.max(1);
        self
    }

    /// The most memory the decoder may allocate (default 512 MiB).
    pub fn with_max_decoder_bytes(mut self, bytes: u64) -> Self {
        self.max_decoder_bytes = bytes;
        self
    }

    /// The largest image file read, and the largest clean image written (default 64 MiB; the upload
    /// endpoints refuse an image claimed larger before signing its upload).
    pub fn with_max_bytes(mut self, bytes: u64) -> Self {
        self.max_bytes = bytes;
        self
    }

    /// The largest image file read or written.
    #[must_use]
    pub fn max_bytes(&self) -> u64 {
        self.max_bytes
    }

    /// The quality JPEGs are re-encoded at, 1–100 (default 88).
    pub fn with_jpeg_quality(mut self, quality: u8) -> Self {
        self.jpeg_quality = quality.clamp(1, 100);
        self
    }

    /// One more variant made of every image (a thumbnail, a display size).
    pub fn with_variant(mut self, variant: Variant) -> Self {
        self.variants.retain(|v| v.name != variant.name);
        self.variants.push(variant);
        self
    }

    /// The most pixels on a side.
    #[must_use]
    pub fn max_side(&self) -> u32 {
        self.max_side
    }

    /// The most pixels in all.
    #[must_use]
    pub fn max_pixels(&self) -> u64 {
        self.max_pixels
    }

    /// The most frames.
    #[must_use]
    pub fn max_frames(&self) -> u32 {
        self.max_frames
    }

    /// The decoder's memory cap.
    #[must_use]
    pub fn max_decoder_bytes(&self) -> u64 {
        self.max_decoder_bytes
    }

    /// The JPEG quality.
    #[must_use]
    pub fn jpeg_quality(&self) -> u8 {
        self.jpeg_quality
    }

    /// The variants.
    #[must_use]
    pub fn variants(&self) -> &[Variant] {
        &self.variants
    }

    /// Where the variant `variant` of the object at `key` is kept: beside it, under `.variants/` and
    /// the object's own name (`uploads/42/1f3a/me.png` → `uploads/42/1f3a/.variants/me.png/thumb.jpg`),
    /// so that listing the upload's folder lists both, a listing of files can skip them, and two
    /// images in one folder never share a variant.
    #[must_use]
    pub fn variant_key(key: &str, variant: &Variant) -> String {
        let (folder, name) = key.rsplit_once('/').map_or(("", key), |(folder, name)| (folder, name));
        let prefix = if folder.is_empty() { String::new() } else { format!("{folder}/") };
        format!("{prefix}.variants/{name}/{}.{}", variant.name, variant.format.extension())
    }

    /// Whether `content_type` is one the pipeline takes: JPEG, PNG, WebP, GIF, with their aliases
    /// (`image/jpg`, `image/pjpeg`, `image/x-png`, `image/apng`). Other image types (SVG, HEIC,
    /// AVIF, …) are not cleaned: allow only these four where images must be clean.
    #[must_use]
    pub fn handles(content_type: &str) -> bool {
        canonical_type(content_type).is_some()
    }
}

/// How a variant is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ImageFormatOut {
    /// JPEG at this quality (1–100).
    Jpeg(u8),
    /// PNG, lossless.
    Png,
    /// WebP, lossless (the one WebP encoder in pure Rust).
    WebpLossless,
}

impl ImageFormatOut {
    /// The media type.
    #[must_use]
    pub fn content_type(self) -> &'static str {
        match self {
            Self::Jpeg(_) => "image/jpeg",
            Self::Png => "image/png",
            Self::WebpLossless => "image/webp",
        }
    }

    /// The file extension.
    #[must_use]
    pub fn extension(self) -> &'static str {
        match self {
            Self::Jpeg(_) => "jpg",
            Self::Png => "png",
            Self::WebpLossless => "webp",
        }
    }
}

/// A resized copy made of every image: fit inside a box (never enlarged), encoded as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    pub(super) name: String,
    pub(super) max_width: u32,
    pub(super) max_height: u32,
    pub(super) format: ImageFormatOut,
}

impl Variant {
    /// A JPEG `name` that fits inside `max_side` × `max_side`, at `quality`. The name is a key
    /// segment: `a-z 0-9 _ -` (anything else is replaced by `-`).
    pub fn jpeg(name: &str, max_side: u32, quality: u8) -> Self {
        Self::new(name, max_side, max_side, ImageFormatOut::Jpeg(quality.clamp(1, 100)))
    }

    /// A variant of any format that fits inside `max_width` × `max_height`.
    pub fn new(name: &str, max_width: u32, max_height: u32, format: ImageFormatOut) -> Self {
        let name: String = name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c.to_ascii_lowercase() } else { '-' })
            .take(32)
            .collect();
        let name = if name.is_empty() { "variant".to_owned() } else { name };
        Self { name, max_width: max_width.max(1), max_height: max_height.max(1), format }
    }

    /// Its name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its box.
    #[must_use]
    pub fn max_size(&self) -> (u32, u32) {
        (self.max_width, self.max_height)
    }

    /// Its format.
    #[must_use]
    pub fn format(&self) -> ImageFormatOut {
        self.format
    }
}

/// Why an image was refused, with a sentence for the person and an HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ImageRefusal {
    /// The bytes are not an image of a format the pipeline reads.
    #[error("the file is not a JPEG, PNG, WebP or GIF image")]
    NotAnImage,
    /// An image of another format than declared.
    #[error("the file is {found}, not {declared} as declared")]
    OtherFormat {
        /// The declared type.
        declared: String,
        /// What the bytes are.
        found: String,
    },
    /// No pixels.
    #[error("the image declares {width} × {height} pixels")]
    Empty {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
    },
    /// Too many pixels on a side or in all, as the header declares.
    #[error("the image is {width} × {height} pixels; the limit is {max_side} a side and {max_pixels} in all")]
    TooLarge {
        /// Its width.
        width: u32,
        /// Its height.
        height: u32,
        /// The most on a side.
        max_side: u32,
        /// The most in all.
        max_pixels: u64,
    },
    /// More frames than allowed.
    #[error("the animation has more than {max} frames")]
    TooManyFrames {
        /// The most allowed.
        max: u32,
    },
    /// The decoder would need more memory than allowed.
    #[error("decoding the image would take more than {max} bytes")]
    TooMuchMemory {
        /// The cap.
        max: u64,
    },
    /// The image is cut short or malformed.
    #[error("the image is damaged: {reason}")]
    Corrupt {
        /// The decoder's words.
        reason: String,
    },
    /// The decoder failed on it in a way it should not (a panic, caught).
    #[error("the image could not be decoded (the decoder failed on it)")]
    DecoderFailed,
    /// The image file is larger than the size limit (checked before it is read whole).
    #[error("the image file is {size} bytes; the limit is {max}")]
    FileTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The clean image is larger than the size limit.
    #[error("the clean image is {size} bytes; the limit is {max}")]
    CleanTooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// Encoding failed.
    #[error("the clean image could not be written: {reason}")]
    Encoding {
        /// The encoder's words.
        reason: String,
    },
}

impl ImageRefusal {
    /// The refusal in words for the person who uploaded: "This image is 100000 × 100000 pixels,
    /// over the limit of 50 megapixels and 16383 pixels a side."
    #[must_use]
    pub fn user_message(&self) -> String {
        match self {
            Self::NotAnImage => "This file is not an image that can be shown.".to_owned(),
            Self::OtherFormat { found, .. } => {
                format!("This file is a {found} image, not of the type its name and type say.")
            }
            Self::Empty { .. } => "This image has no pixels.".to_owned(),
            Self::TooLarge { width, height, max_side, max_pixels } => format!(
                "This image is {width} × {height} pixels, over the limit of {} megapixels and {max_side} pixels a side.",
                megapixels(*max_pixels)
            ),
            Self::TooManyFrames { max } => {
                format!("This animation has more than {max} frames; shorter ones are accepted.")
            }
            Self::TooMuchMemory { .. } => "This image is too large to be processed.".to_owned(),
            Self::Corrupt { .. } | Self::DecoderFailed => "This image is damaged and cannot be shown.".to_owned(),
            Self::FileTooLarge { max, .. } => {
                format!("This image file is larger than the {:.1} MiB accepted.", *max as f64 / 1_048_576.0)
            }
            Self::CleanTooLarge { max, .. } => {
                format!("Once cleaned, this image is larger than the {:.1} MiB accepted.", *max as f64 / 1_048_576.0)
            }
            Self::Encoding { .. } => "This image could not be processed.".to_owned(),
        }
    }

    /// The HTTP status to answer with: 413 for an image too large, 415 for a file that is not one
    /// of the formats, 422 otherwise.
    #[must_use]
    pub fn http_status(&self) -> u16 {
        match self {
            Self::TooLarge { .. }
            | Self::TooManyFrames { .. }
            | Self::TooMuchMemory { .. }
            | Self::FileTooLarge { .. }
            | Self::CleanTooLarge { .. } => 413,
            Self::NotAnImage | Self::OtherFormat { .. } => 415,
            _ => 422,
        }
    }
}

/// `50` for 50,000,000; `1.5` for 1,500,000.
fn megapixels(pixels: u64) -> String {
    let mp = pixels as f64 / 1_000_000.0;
    if (mp - mp.round()).abs() < 0.05 { format!("{mp:.0}") } else { format!("{mp:.1}") }
}

impl fmt::Display for Variant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} × {}, {})", self.name, self.max_width, self.max_height, self.format.content_type())
    }
}

/// The media type the pipeline takes `content_type` for, with its aliases (`image/jpg`,
/// `image/pjpeg`, `image/x-png`) and parameters resolved; `None` for a type it does not handle.
pub(crate) fn canonical_type(content_type: &str) -> Option<&'static str> {
    match content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase().as_str() {
        "image/jpeg" | "image/jpg" | "image/pjpeg" => Some("image/jpeg"),
        "image/png" | "image/x-png" | "image/apng" => Some("image/png"),
        "image/webp" => Some("image/webp"),
        "image/gif" => Some("image/gif"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_keys_sit_beside_the_object() {
        let thumb = Variant::jpeg("Thumb 1", 256, 80);
        assert_eq!(thumb.name(), "thumb-1");
        assert_eq!(
            ImagePolicy::variant_key("uploads/42/1f3a/me.png", &thumb),
            "uploads/42/1f3a/.variants/me.png/thumb-1.jpg"
        );
        assert_eq!(ImagePolicy::variant_key("me.png", &thumb), ".variants/me.png/thumb-1.jpg");
        // Two images in one folder: their variants never meet.
        assert_ne!(ImagePolicy::variant_key("a/x.png", &thumb), ImagePolicy::variant_key("a/y.png", &thumb));
        assert!(ImagePolicy::handles("image/JPEG; charset=x") && !ImagePolicy::handles("image/svg+xml"));
    }

    #[test]
    fn refusals_read_well() {
        let bomb = ImageRefusal::TooLarge { width: 100_000, height: 100_000, max_side: 16_383, max_pixels: 50_000_000 };
        assert_eq!(
            bomb.user_message(),
            "This image is 100000 × 100000 pixels, over the limit of 50 megapixels and 16383 pixels a side."
        );
        assert_eq!(bomb.http_status(), 413);
    }
}
