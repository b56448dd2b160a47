//! The pipeline itself: header bounds, frames, decoding under limits, orientation, re-encoding,
//! variants. Synchronous and CPU-bound: run it off the async runtime
//! ([`sanitize_off_runtime`](super::sanitize_off_runtime)).

use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::gif::{GifDecoder, GifEncoder};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngDecoder, PngEncoder};
use image::codecs::webp::{WebPDecoder, WebPEncoder};
use image::error::LimitErrorKind;
use image::{
    AnimationDecoder, DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits, Rgba,
    RgbaImage,
};

use super::policy::{ImageFormatOut, ImagePolicy, ImageRefusal, Variant};

/// An image made clean: new bytes, its type and size, and its variants.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Sanitized {
    /// The re-encoded image.
    pub bytes: Vec<u8>,
    /// Its media type (the declared format's).
    pub content_type: String,
    /// Its width, upright.
    pub width: u32,
    /// Its height, upright.
    pub height: u32,
    /// Whether the original was an animation (of which the first frame is kept).
    pub was_animated: bool,
    /// The variants, in the policy's order.
    pub variants: Vec<SanitizedVariant>,
}

/// One variant of a clean image.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SanitizedVariant {
    /// The variant's name.
    pub name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its media type.
    pub content_type: String,
    /// Its width.
    pub width: u32,
    /// Its height.
    pub height: u32,
}

impl std::fmt::Debug for Sanitized {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sanitized")
            .field("bytes", &self.bytes.len())
            .field("content_type", &self.content_type)
            .field("size", &(self.width, self.height))
            .field("variants", &self.variants)
            .finish()
    }
}

impl std::fmt::Debug for SanitizedVariant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}×{} {} ({} bytes)", self.name, self.width, self.height, self.content_type, self.bytes.len())
    }
}

/// The media type of a format the pipeline reads.
fn media_type(format: ImageFormat) -> Option<&'static str> {
    match format {
        ImageFormat::Jpeg => Some("image/jpeg"),
        ImageFormat::Png => Some("image/png"),
        ImageFormat::WebP => Some("image/webp"),
        ImageFormat::Gif => Some("image/gif"),
        _ => None,
    }
}

fn essence(content_type: &str) -> String {
    let essence = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    if essence == "image/jpg" { "image/jpeg".to_owned() } else { essence }
}

/// A decoder's error, as a refusal.
fn refused(error: ImageError, policy: &ImagePolicy, size: (u32, u32)) -> ImageRefusal {
    match error {
        ImageError::Limits(limit) => match limit.kind() {
            LimitErrorKind::DimensionError => ImageRefusal::TooLarge {
                width: size.0,
                height: size.1,
                max_side: policy.max_side(),
                max_pixels: policy.max_pixels(),
            },
            _ => ImageRefusal::TooMuchMemory { max: policy.max_decoder_bytes() },
        },
        ImageError::Unsupported(_) => ImageRefusal::NotAnImage,
        other => ImageRefusal::Corrupt { reason: other.to_string().chars().take(200).collect() },
    }
}

fn limits(policy: &ImagePolicy) -> Limits {
    let mut limits = Limits::default();
    limits.max_image_width = Some(policy.max_side());
    limits.max_image_height = Some(policy.max_side());
    limits.max_alloc = Some(policy.max_decoder_bytes());
    limits
}

/// Makes `bytes`, declared as `declared_type`, a clean image under `policy`: checked from its header
/// before decoding (format, pixels on a side and in all, frames), decoded within the memory cap,
/// turned upright, stripped of every metadata but its colour profile, re-encoded in its format, and
/// resized into the policy's variants. See the module docs for what is kept.
///
/// # Errors
///
/// An [`ImageRefusal`] saying why, with a sentence for the person
/// ([`user_message`](ImageRefusal::user_message)).
pub fn sanitize(bytes: &[u8], declared_type: &str, policy: &ImagePolicy) -> Result<Sanitized, ImageRefusal> {
    let format = image::guess_format(bytes).map_err(|_| ImageRefusal::NotAnImage)?;
    let found = media_type(format).ok_or(ImageRefusal::NotAnImage)?;
    let declared = essence(declared_type);
    if declared != found {
        return Err(ImageRefusal::OtherFormat { declared, found: found.trim_start_matches("image/").to_uppercase() });
    }

    ends_whole(bytes, format)?;
    // The header alone: dimensions before any pixel is decoded.
    let (width, height) = ImageReader::with_format(Cursor::new(bytes), format)
        .into_dimensions()
        .map_err(|e| refused(e, policy, (0, 0)))?;
    if width == 0 || height == 0 {
        return Err(ImageRefusal::Empty { width, height });
    }
    if width > policy.max_side()
        || height > policy.max_side()
        || u64::from(width) * u64::from(height) > policy.max_pixels()
    {
        return Err(ImageRefusal::TooLarge {
            width,
            height,
            max_side: policy.max_side(),
            max_pixels: policy.max_pixels(),
        });
    }
    let was_animated = count_frames(bytes, format, policy)? > 1;

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(limits(policy));
    let mut decoder = reader.into_decoder().map_err(|e| refused(e, policy, (width, height)))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let mut pixels = DynamicImage::from_decoder(decoder).map_err(|e| refused(e, policy, (width, height)))?;
    pixels.apply_orientation(orientation);

    let bytes = encode_as(&pixels, format, policy.jpeg_quality(), icc.as_deref())?;
    let variants = policy
        .variants()
        .iter()
        .map(|variant| make_variant(&pixels, variant, icc.as_deref()))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Sanitized {
        bytes,
        content_type: found.to_owned(),
        width: pixels.width(),
        height: pixels.height(),
        was_animated,
        variants,
    })
}

/// Refuses an image cut short, which some decoders fill in rather than refuse: a JPEG must have an
/// end marker after its last scan, a WebP as many bytes as its RIFF header says. (The PNG and GIF
/// decoders refuse a cut stream themselves.) Bytes after the end are allowed here — they are what
/// re-encoding drops.
fn ends_whole(bytes: &[u8], format: ImageFormat) -> Result<(), ImageRefusal> {
    let cut = |what: &str| ImageRefusal::Corrupt { reason: format!("the file ends before {what}") };
    match format {
        ImageFormat::Jpeg => {
            let last_scan = bytes.windows(2).rposition(|w| w == [0xFF, 0xDA]).ok_or_else(|| cut("its first scan"))?;
            if !bytes[last_scan..].windows(2).any(|w| w == [0xFF, 0xD9]) {
                return Err(cut("its end marker"));
            }
        }
        ImageFormat::WebP => {
            let declared = bytes.get(4..8).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize + 8);
            if declared.is_none_or(|n| n > bytes.len()) {
                return Err(cut("the length its header declares"));
            }
        }
        _ => {}
    }
    Ok(())
}

/// How many frames the image has, counted up to one past the limit (decoding each, within the
/// memory cap): 1 for a still.
fn count_frames(bytes: &[u8], format: ImageFormat, policy: &ImagePolicy) -> Result<u32, ImageRefusal> {
    let most = policy.max_frames() as usize + 1;
    let counted = |frames: image::Frames<'_>| -> Result<u32, ImageRefusal> {
        let mut n = 0u32;
        for frame in frames.take(most) {
            frame.map_err(|e| refused(e, policy, (0, 0)))?;
            n += 1;
        }
        Ok(n)
    };
    let frames = match format {
        ImageFormat::Gif => {
            let mut decoder = GifDecoder::new(Cursor::new(bytes)).map_err(|e| refused(e, policy, (0, 0)))?;
            decoder.set_limits(limits(policy)).map_err(|e| refused(e, policy, (0, 0)))?;
            counted(decoder.into_frames())?
        }
        ImageFormat::WebP => {
            let decoder = WebPDecoder::new(Cursor::new(bytes)).map_err(|e| refused(e, policy, (0, 0)))?;
            if decoder.has_animation() { counted(decoder.into_frames())? } else { 1 }
        }
        ImageFormat::Png => {
            let decoder = PngDecoder::new(Cursor::new(bytes)).map_err(|e| refused(e, policy, (0, 0)))?;
            if decoder.is_apng().unwrap_or(false) {
                counted(decoder.apng().map_err(|e| refused(e, policy, (0, 0)))?.into_frames())?
            } else {
                1
            }
        }
        _ => 1,
    };
    if frames > policy.max_frames() {
        return Err(ImageRefusal::TooManyFrames { max: policy.max_frames() });
    }
    Ok(frames)
}

fn encoding_failed(error: impl std::fmt::Display) -> ImageRefusal {
    ImageRefusal::Encoding { reason: error.to_string().chars().take(200).collect() }
}

/// `pixels` flattened onto white (JPEG has no transparency).
fn opaque(pixels: &DynamicImage) -> DynamicImage {
    if !pixels.color().has_alpha() {
        return match pixels {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => pixels.clone(),
            other if !other.color().has_color() => DynamicImage::ImageLuma8(other.to_luma8()),
            other => DynamicImage::ImageRgb8(other.to_rgb8()),
        };
    }
    let mut rgba: RgbaImage = pixels.to_rgba8();
    for pixel in rgba.pixels_mut() {
        let Rgba([r, g, b, a]) = *pixel;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        *pixel = Rgba([over(r), over(g), over(b), 255]);
    }
    DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8())
}

/// `pixels` encoded as `format` (the original's), with the colour profile and nothing else.
fn encode_as(
    pixels: &DynamicImage,
    format: ImageFormat,
    quality: u8,
    icc: Option<&[u8]>,
) -> Result<Vec<u8>, ImageRefusal> {
    let mut out = Vec::new();
    match format {
        ImageFormat::Jpeg => encode(pixels, ImageFormatOut::Jpeg(quality), icc, &mut out)?,
        ImageFormat::Png => encode(pixels, ImageFormatOut::Png, icc, &mut out)?,
        ImageFormat::WebP => encode(pixels, ImageFormatOut::WebpLossless, icc, &mut out)?,
        _ => {
            let still = pixels.to_rgba8();
            let mut encoder = GifEncoder::new(&mut out);
            encoder
                .encode(still.as_raw(), still.width(), still.height(), image::ExtendedColorType::Rgba8)
                .map_err(encoding_failed)?;
        }
    }
    Ok(out)
}

fn encode(
    pixels: &DynamicImage,
    format: ImageFormatOut,
    icc: Option<&[u8]>,
    out: &mut Vec<u8>,
) -> Result<(), ImageRefusal> {
    let with_profile = |encoder: &mut dyn FnMut(Vec<u8>)| {
        if let Some(icc) = icc {
            encoder(icc.to_vec());
        }
    };
    match format {
        ImageFormatOut::Jpeg(quality) => {
            let flat = opaque(pixels);
            let mut encoder = JpegEncoder::new_with_quality(&mut *out, quality);
            with_profile(&mut |icc| {
                let _ = encoder.set_icc_profile(icc);
            });
            encoder
                .write_image(flat.as_bytes(), flat.width(), flat.height(), flat.color().into())
                .map_err(encoding_failed)
        }
        ImageFormatOut::Png => {
            let mut encoder = PngEncoder::new_with_quality(&mut *out, CompressionType::Default, PngFilter::Adaptive);
            with_profile(&mut |icc| {
                let _ = encoder.set_icc_profile(icc);
            });
            let pixels = match pixels {
                DynamicImage::ImageRgb32F(_) | DynamicImage::ImageRgba32F(_) => {
                    &DynamicImage::ImageRgba16(pixels.to_rgba16())
                }
                other => other,
            };
            encoder
                .write_image(pixels.as_bytes(), pixels.width(), pixels.height(), pixels.color().into())
                .map_err(encoding_failed)
        }
        ImageFormatOut::WebpLossless => {
            let eight = if pixels.color().has_alpha() {
                DynamicImage::ImageRgba8(pixels.to_rgba8())
            } else {
                DynamicImage::ImageRgb8(pixels.to_rgb8())
            };
            let mut encoder = WebPEncoder::new_lossless(&mut *out);
            with_profile(&mut |icc| {
                let _ = encoder.set_icc_profile(icc);
            });
            encoder
                .write_image(eight.as_bytes(), eight.width(), eight.height(), eight.color().into())
                .map_err(encoding_failed)
        }
    }
}

/// The box `variant` fits `width` × `height` into, never larger than the image.
fn fit(width: u32, height: u32, variant: &Variant) -> (u32, u32) {
    let (max_w, max_h) = variant.max_size();
    let scale = (f64::from(max_w) / f64::from(width)).min(f64::from(max_h) / f64::from(height)).min(1.0);
    let side = |n: u32| ((f64::from(n) * scale).round() as u32).max(1);
    (side(width), side(height))
}

fn make_variant(
    pixels: &DynamicImage,
    variant: &Variant,
    icc: Option<&[u8]>,
) -> Result<SanitizedVariant, ImageRefusal> {
    let (width, height) = fit(pixels.width(), pixels.height(), variant);
    let source = if pixels.color().has_alpha() {
        DynamicImage::ImageRgba8(pixels.to_rgba8())
    } else {
        match pixels {
            DynamicImage::ImageRgb8(_) => pixels.clone(),
            other => DynamicImage::ImageRgb8(other.to_rgb8()),
        }
    };
    let resized = if (width, height) == (source.width(), source.height()) {
        source
    } else {
        let mut target = DynamicImage::new(width, height, source.color());
        let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
        Resizer::new().resize(&source, &mut target, &options).map_err(encoding_failed)?;
        target
    };
    let mut bytes = Vec::new();
    encode(&resized, variant.format(), icc, &mut bytes)?;
    Ok(SanitizedVariant {
        name: variant.name().to_owned(),
        bytes,
        content_type: variant.format().content_type().to_owned(),
        width,
        height,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let pixels = RgbaImage::from_fn(width, height, |x, y| Rgba([x as u8, y as u8, 7, 255]));
        let mut out = Vec::new();
        DynamicImage::ImageRgba8(pixels).write_to(&mut Cursor::new(&mut out), ImageFormat::Png).expect("png");
        out
    }

    #[test]
    fn variants_fit_inside_and_never_grow() {
        let v = Variant::jpeg("thumb", 256, 80);
        assert_eq!(fit(6000, 4000, &v), (256, 171));
        assert_eq!(fit(100, 50, &v), (100, 50));
        assert_eq!(fit(1, 10_000, &v), (1, 256));
    }

    #[test]
    fn declared_format_and_bounds() {
        let policy = ImagePolicy::new().with_max_pixels(100);
        assert_eq!(sanitize(&png(8, 8), "image/png", &policy).map(|s| (s.width, s.height)), Ok((8, 8)));
        assert!(matches!(sanitize(&png(20, 20), "image/png", &policy), Err(ImageRefusal::TooLarge { .. })));
        assert!(matches!(sanitize(&png(8, 8), "image/jpeg", &policy), Err(ImageRefusal::OtherFormat { .. })));
        assert_eq!(sanitize(b"not an image at all", "image/png", &policy), Err(ImageRefusal::NotAnImage));
        let mut cut = png(8, 8);
        cut.truncate(cut.len() / 2);
        assert!(matches!(sanitize(&cut, "image/png", &policy), Err(ImageRefusal::Corrupt { .. })));
    }
}
