//! Images after upload (feature `images`): bounded from their header before a pixel is decoded,
//! decoded off the async runtime, stripped of what they say about the person, turned upright,
//! re-encoded, and resized into the variants an app shows.
//!
//! A phone photo carries GPS coordinates, the device and the time in its EXIF; a 600 KB PNG can
//! declare 100,000 × 100,000 pixels and take gigabytes to decode; a valid JPEG can carry a ZIP or an
//! HTML page after its last byte. [`sanitize`] answers all three: the header's dimensions, pixel
//! count and frames are checked before decoding, the decoder's memory is capped, and the image that
//! comes out is a new encoding of the pixels — nothing of the original file's bytes survives but a
//! colour profile that describes them.
//!
//! ```
//! use stowage::images::{ImagePolicy, Variant, sanitize};
//!
//! // A 64 × 48 JPEG, as a phone would send it (made here with the `image` crate).
//! let pixels = image::RgbImage::from_fn(64, 48, |x, y| image::Rgb([x as u8 * 4, y as u8 * 5, 128]));
//! let mut jpeg = Vec::new();
//! image::DynamicImage::ImageRgb8(pixels)
//!     .write_to(&mut std::io::Cursor::new(&mut jpeg), image::ImageFormat::Jpeg)?;
//! jpeg.extend_from_slice(b"PK\x03\x04 a zip appended after the image");
//!
//! let policy = ImagePolicy::new().with_variant(Variant::jpeg("thumb", 32, 85));
//! let clean = sanitize(&jpeg, "image/jpeg", &policy)?;
//! assert_eq!((clean.width, clean.height, clean.content_type.as_str()), (64, 48, "image/jpeg"));
//! assert!(!clean.bytes.windows(4).any(|w| w == b"PK\x03\x04"), "nothing appended survives");
//! assert_eq!((clean.variants[0].width, clean.variants[0].height), (32, 24));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! **What is kept.** The pixels, turned upright by the EXIF orientation, and the ICC colour profile
//! when it is of their colour space (it describes colours, not the person, and dropping it shifts
//! them on wide-gamut photos; a CMYK JPEG's profile goes with the CMYK).
//! **What goes.** EXIF (GPS, device, time), XMP, IPTC, comments, PNG text chunks, and anything
//! after the image's end. **Formats.** JPEG, PNG, WebP and GIF are re-encoded in their own format
//! (JPEG at [`ImagePolicy::with_jpeg_quality`] with `jpeg-encoder`, 4:2:0 below quality 90 and 4:4:4
//! from 90 as libjpeg chooses, PNG losslessly, WebP losslessly — the one WebP
//! encoder in pure Rust — and GIF as a still). **Animations** (GIF, animated WebP, APNG) keep their
//! first frame, as `sharp` does by default, once their frames are counted within
//! [`ImagePolicy::with_max_frames`]. 16-bit PNGs stay 16-bit; CMYK JPEGs come out RGB.

mod container;
mod orient;
mod pipeline;
mod policy;
mod worker;

pub use pipeline::{Sanitized, SanitizedVariant, sanitize};
pub use policy::{ImageFormatOut, ImagePolicy, ImageRefusal, Variant};
pub(crate) use worker::cores;
pub use worker::sanitize_off_runtime;
