//! The pipeline itself: header bounds, frames, decoding under limits, orientation, re-encoding,
//! variants. Synchronous and CPU-bound: run it off the async runtime
//! ([`sanitize_off_runtime`](super::sanitize_off_runtime)).

use std::borrow::Cow;
use std::io::Cursor;

use fast_image_resize::{FilterType, ResizeAlg, ResizeOptions, Resizer};
use image::codecs::gif::GifEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::codecs::webp::WebPEncoder;
use image::error::LimitErrorKind;
use image::{DynamicImage, ImageDecoder, ImageEncoder, ImageError, ImageFormat, ImageReader, Limits, Rgba, RgbaImage};

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
    if bytes.len() as u64 > policy.max_bytes() {
        return Err(ImageRefusal::FileTooLarge { size: bytes.len() as u64, max: policy.max_bytes() });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageRefusal::NotAnImage)?;
    let found = media_type(format).ok_or(ImageRefusal::NotAnImage)?;
    let declared = super::policy::canonical_type(declared_type);
    if declared != Some(found) {
        let declared = declared.map_or_else(|| declared_type.trim().to_ascii_lowercase(), str::to_owned);
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
    // The decoded pixels themselves count against the decoder's memory, as `ImageReader::decode`
    // counts them (`into_decoder` leaves them out): what is left is the decoder's own.
    let mut left = limits(policy);
    if left.reserve(decoder.total_bytes()).is_err() {
        return Err(ImageRefusal::TooMuchMemory { max: policy.max_decoder_bytes() });
    }
    decoder.set_limits(left).map_err(|e| refused(e, policy, (width, height)))?;
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let icc = decoder.icc_profile().ok().flatten();
    let pixels = DynamicImage::from_decoder(decoder).map_err(|e| refused(e, policy, (width, height)))?;
    let pixels = super::orient::upright(pixels, orientation);
    // The profile describes the pixels as decoded; a CMYK profile no longer does once they are RGB.
    let icc = icc.filter(|profile| profile_fits(profile, &pixels));

    let bytes = encode_as(&pixels, format, policy.jpeg_quality(), icc.as_deref())?;
    let variants = make_variants(&pixels, policy.variants(), icc.as_deref())?;
    Ok(Sanitized {
        bytes,
        content_type: found.to_owned(),
        width: pixels.width(),
        height: pixels.height(),
        was_animated,
        variants,
    })
}

/// The largest ICC profile kept. Display profiles are a few kilobytes (sRGB 3 KB, Display P3 under
/// 1 KB); a larger one is more likely a payload than a description of colours.
const MAX_PROFILE: usize = 64 * 1024;

/// Whether an ICC profile is kept with `pixels`: a well-formed header (its declared size the size
/// there is, the `acsp` signature), at most [`MAX_PROFILE`], and of the pixels' colour space (bytes
/// 16–19: `RGB ` for colour, `GRAY` for grey), as it must be to describe them.
fn profile_fits(profile: &[u8], pixels: &DynamicImage) -> bool {
    let declared = profile.get(..4).map(|n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]) as usize);
    let space = profile.get(16..20);
    profile.len() <= MAX_PROFILE
        && declared == Some(profile.len())
        && profile.get(36..40) == Some(b"acsp")
        && if pixels.color().has_color() { space == Some(b"RGB ") } else { space == Some(b"GRAY") }
}

/// Refuses an image cut short, which some decoders fill in rather than refuse: a JPEG must have an
/// end marker after its last scan, a WebP as many bytes as its RIFF header says. (The PNG and GIF
/// decoders refuse a cut stream themselves.) Bytes after the end are allowed here — they are what
/// re-encoding drops.
fn ends_whole(bytes: &[u8], format: ImageFormat) -> Result<(), ImageRefusal> {
    let cut = |what: &str| ImageRefusal::Corrupt { reason: format!("the file ends before {what}") };
    match format {
        ImageFormat::Jpeg => {
            super::container::jpeg_end(bytes).ok_or_else(|| cut("its end marker"))?;
        }
        ImageFormat::WebP => {
            let declared = bytes.get(4..8).map(|b| u64::from(u32::from_le_bytes([b[0], b[1], b[2], b[3]])) + 8);
            if declared.is_none_or(|n| n > bytes.len() as u64) {
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
    let most = policy.max_frames();
    let frames = match format {
        ImageFormat::Gif => super::container::gif_frames(bytes, most)
            .map_err(|reason| ImageRefusal::Corrupt { reason: reason.to_owned() })?,
        ImageFormat::WebP => super::container::webp_frames(bytes, most),
        ImageFormat::Png => super::container::png_frames(bytes),
        _ => 1,
    };
    if frames > most {
        return Err(ImageRefusal::TooManyFrames { max: most });
    }
    Ok(frames)
}

fn encoding_failed(error: impl std::fmt::Display) -> ImageRefusal {
    ImageRefusal::Encoding { reason: error.to_string().chars().take(200).collect() }
}

/// `pixels` as JPEG takes them: 8-bit grey or RGB, flattened onto white (JPEG has no
/// transparency). Borrowed when they already are.
fn opaque(pixels: &DynamicImage) -> Cow<'_, DynamicImage> {
    if !pixels.color().has_alpha() {
        return match pixels {
            DynamicImage::ImageLuma8(_) | DynamicImage::ImageRgb8(_) => Cow::Borrowed(pixels),
            other if !other.color().has_color() => Cow::Owned(DynamicImage::ImageLuma8(other.to_luma8())),
            other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
        };
    }
    let mut rgba: RgbaImage = pixels.to_rgba8();
    for pixel in rgba.pixels_mut() {
        let Rgba([r, g, b, a]) = *pixel;
        let over = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        *pixel = Rgba([over(r), over(g), over(b), 255]);
    }
    Cow::Owned(DynamicImage::ImageRgb8(DynamicImage::ImageRgba8(rgba).to_rgb8()))
}

/// `pixels` (8-bit grey or RGB) as a baseline JPEG at `quality`, with the colour profile: 4:2:0
/// below quality 90, 4:4:4 from 90 (libjpeg's choice), standard Huffman tables.
fn encode_jpeg(pixels: &DynamicImage, quality: u8, icc: Option<&[u8]>, out: &mut Vec<u8>) -> Result<(), ImageRefusal> {
    let (color, width, height) = match pixels {
        DynamicImage::ImageLuma8(p) => (jpeg_encoder::ColorType::Luma, p.width(), p.height()),
        DynamicImage::ImageRgb8(p) => (jpeg_encoder::ColorType::Rgb, p.width(), p.height()),
        _ => return Err(encoding_failed("JPEG takes 8-bit grey or RGB pixels")),
    };
    let side = |n: u32| u16::try_from(n).map_err(|_| encoding_failed("JPEG sides are at most 65535 pixels"));
    let mut encoder = jpeg_encoder::Encoder::new(&mut *out, quality.clamp(1, 100));
    if let Some(icc) = icc {
        // A profile too large for JPEG's markers is left out rather than refusing the image.
        let _ = encoder.add_icc_profile(icc);
    }
    encoder.encode(pixels.as_bytes(), side(width)?, side(height)?, color).map_err(encoding_failed)
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
            // Speed 10 of 30: NeuQuant at speed 1 takes tens of seconds on a large still.
            let mut encoder = GifEncoder::new_with_speed(&mut out, 10);
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
        ImageFormatOut::Jpeg(quality) => encode_jpeg(&opaque(pixels), quality, icc, out),
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

/// The variants of `pixels`, each resized from the smallest image already made that is at least
/// twice its size on both sides (the thumbnail from the display size rather than from 24
/// megapixels: the same filter over a twentieth of the pixels, and no visible difference).
fn make_variants(
    pixels: &DynamicImage,
    variants: &[Variant],
    icc: Option<&[u8]>,
) -> Result<Vec<SanitizedVariant>, ImageRefusal> {
    let source = match pixels {
        DynamicImage::ImageRgb8(_) | DynamicImage::ImageRgba8(_) => Cow::Borrowed(pixels),
        other if other.color().has_alpha() => Cow::Owned(DynamicImage::ImageRgba8(other.to_rgba8())),
        other => Cow::Owned(DynamicImage::ImageRgb8(other.to_rgb8())),
    };
    // Grey pixels become RGB here: a grey profile no longer describes them.
    let icc = icc.filter(|profile| profile_fits(profile, &source));
    let sizes: Vec<(u32, u32)> = variants.iter().map(|v| fit(pixels.width(), pixels.height(), v)).collect();
    // Largest first, so that each can serve the smaller ones.
    let mut order: Vec<usize> = (0..variants.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(u64::from(sizes[i].0) * u64::from(sizes[i].1)));
    let mut made: Vec<Option<(DynamicImage, SanitizedVariant)>> = vec![None; variants.len()];
    for &i in &order {
        let (width, height) = sizes[i];
        let from = made
            .iter()
            .flatten()
            .map(|(resized, _)| resized)
            .filter(|r| u64::from(r.width()) >= 2 * u64::from(width) && u64::from(r.height()) >= 2 * u64::from(height))
            .min_by_key(|r| u64::from(r.width()) * u64::from(r.height()))
            .unwrap_or(&source);
        let resized = if (width, height) == (from.width(), from.height()) {
            from.clone()
        } else {
            let mut target = DynamicImage::new(width, height, from.color());
            let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
            Resizer::new().resize(from, &mut target, &options).map_err(encoding_failed)?;
            target
        };
        let mut bytes = Vec::new();
        encode(&resized, variants[i].format(), icc, &mut bytes)?;
        let variant = SanitizedVariant {
            name: variants[i].name().to_owned(),
            bytes,
            content_type: variants[i].format().content_type().to_owned(),
            width,
            height,
        };
        made[i] = Some((resized, variant));
    }
    Ok(made.into_iter().flatten().map(|(_, variant)| variant).collect())
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
