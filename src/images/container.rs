//! Reading an image's container without decoding a pixel: where a JPEG ends, and how many frames
//! a GIF, a WebP or an APNG holds. Every length is checked against the bytes there are; nothing
//! here allocates in proportion to what a header claims.

/// Where the JPEG in `bytes` ends (just after its end-of-image marker), found by walking its
/// segments and entropy-coded scans from the start — bytes after the end are never looked at, so
/// an appended archive cannot fake or hide the end. `None` when the stream is cut short.
pub(super) fn jpeg_end(bytes: &[u8]) -> Option<usize> {
    if bytes.get(..2)? != [0xFF, 0xD8] {
        return None;
    }
    let mut i = 2usize;
    loop {
        // Where a marker should start: extraneous bytes before it are skipped, as libjpeg and
        // zune-jpeg do (with a warning), and so are fill bytes.
        i += bytes.get(i..)?.iter().position(|&b| b == 0xFF)?;
        while *bytes.get(i + 1)? == 0xFF {
            i += 1;
        }
        let marker = *bytes.get(i + 1)?;
        match marker {
            0xD9 => return Some(i + 2),
            // A stuffed zero out of a scan is no marker: skipped like any extraneous byte.
            0x00 | 0x01 | 0xD0..=0xD7 => i += 2,
            _ => {
                let length = usize::from(u16::from_be_bytes([*bytes.get(i + 2)?, *bytes.get(i + 3)?]));
                let end = i.checked_add(2)?.checked_add(length)?;
                if end > bytes.len() {
                    return None;
                }
                i = if marker == 0xDA { scan_end(bytes, end)? } else { end };
            }
        }
    }
}

/// The offset of the first marker after the entropy-coded data starting at `from` (stuffed zeros,
/// restart markers and fill bytes are part of the data).
fn scan_end(bytes: &[u8], from: usize) -> Option<usize> {
    let mut j = from;
    loop {
        let at = j + bytes.get(j..)?.iter().position(|&b| b == 0xFF)?;
        match *bytes.get(at + 1)? {
            0x00 | 0xD0..=0xD7 => j = at + 2,
            0xFF => j = at + 1,
            _ => return Some(at),
        }
    }
}

/// The frames a GIF holds, counted from its image descriptors (their pixel data skipped, not
/// decoded), up to `most`.
pub(super) fn gif_frames(bytes: &[u8], most: u32) -> Result<u32, &'static str> {
    const CUT: &str = "the GIF ends before its trailer";
    let table = |packed: u8| if packed & 0x80 != 0 { 3usize << ((packed & 7) + 1) } else { 0 };
    let packed = *bytes.get(10).ok_or(CUT)?;
    let mut i = 13 + table(packed);
    let mut frames = 0u32;
    // Sub-blocks: a size byte, that many bytes, until a size of 0.
    let skip_blocks = |mut i: usize| -> Result<usize, &'static str> {
        loop {
            let size = usize::from(*bytes.get(i).ok_or(CUT)?);
            i += 1 + size;
            if size == 0 {
                return Ok(i);
            }
        }
    };
    while frames <= most {
        match bytes.get(i) {
            Some(0x21) => i = skip_blocks(i + 2)?,
            Some(0x2C) => {
                frames += 1;
                let packed = *bytes.get(i + 9).ok_or(CUT)?;
                // The descriptor, the local colour table, the LZW code size, the data.
                i = skip_blocks(i + 10 + table(packed) + 1)?;
            }
            // The trailer, or data cut after whole frames (the decoder judges those).
            Some(0x3B) | None => break,
            // Bytes of no known kind after a frame: the first frame, the one kept, is whole.
            Some(_) if frames > 0 => break,
            Some(_) => return Err("the GIF has a block of no known kind"),
        }
    }
    Ok(frames)
}

/// The frames a WebP holds: its `ANMF` chunks, or 1.
pub(super) fn webp_frames(bytes: &[u8], most: u32) -> u32 {
    let mut i = 12usize;
    let mut frames = 0u32;
    while frames <= most {
        let Some(header) = bytes.get(i..).and_then(|rest| rest.get(..8)) else { break };
        let (fourcc, size) = header.split_at(4);
        if fourcc == b"ANMF" {
            frames += 1;
        }
        let size = u32::from_le_bytes([size[0], size[1], size[2], size[3]]) as usize;
        // Chunks are padded to an even length.
        match i.checked_add(8).and_then(|n| n.checked_add(size)).and_then(|n| n.checked_add(size & 1)) {
            Some(next) => i = next,
            None => break,
        }
    }
    frames.max(1)
}

/// The frames a PNG declares: its `acTL` chunk's count (an APNG), or 1.
pub(super) fn png_frames(bytes: &[u8]) -> u32 {
    let mut i = 8usize;
    while let Some(header) = bytes.get(i..).and_then(|rest| rest.get(..8)) {
        let (length, kind) = header.split_at(4);
        let length = u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize;
        match kind {
            b"acTL" => {
                let count = bytes.get(i..).and_then(|rest| rest.get(8..12));
                return count.map_or(1, |n| u32::from_be_bytes([n[0], n[1], n[2], n[3]]).max(1));
            }
            // The animation control comes before the image data.
            b"IDAT" | b"IEND" => return 1,
            _ => {}
        }
        match i.checked_add(12).and_then(|n| n.checked_add(length)) {
            Some(next) => i = next,
            None => return 1,
        }
    }
    1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let pixels = image::RgbImage::from_fn(width, height, |x, y| image::Rgb([x as u8, y as u8, 7]));
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(pixels)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Jpeg)
            .expect("encode");
        out
    }

    #[test]
    fn a_jpeg_ends_at_its_own_end_marker_whatever_follows() {
        let whole = jpeg(40, 30);
        assert_eq!(jpeg_end(&whole), Some(whole.len()));
        // Appended bytes that look like a scan without an end: the JPEG still ends where it ends.
        let mut appended = whole.clone();
        appended.extend_from_slice(b"PK\x03\x04\xFF\xDA\x00\x08 a scan marker in the archive");
        assert_eq!(jpeg_end(&appended), Some(whole.len()));
        // Cut anywhere: no end.
        for cut in [2, 20, whole.len() / 2, whole.len() - 1] {
            assert_eq!(jpeg_end(&whole[..cut]), None, "cut at {cut}");
        }
        assert_eq!(jpeg_end(b"not a jpeg"), None);
        // Extraneous bytes between two segments (libjpeg warns and reads on): still whole.
        let mut extraneous = whole[..2].to_vec();
        extraneous.extend_from_slice(b"\x00\x00junk");
        extraneous.extend_from_slice(&whole[2..]);
        assert_eq!(jpeg_end(&extraneous), Some(extraneous.len()));
    }

    #[test]
    fn frames_are_counted_from_the_container() {
        let frame = |v: u8| image::Frame::new(image::RgbaImage::from_pixel(8, 6, image::Rgba([v, 0, 0, 255])));
        let mut gif = Vec::new();
        {
            let mut encoder = image::codecs::gif::GifEncoder::new(&mut gif);
            encoder.encode_frames((0..5).map(frame)).expect("gif");
        }
        assert_eq!(gif_frames(&gif, 100), Ok(5));
        assert_eq!(gif_frames(&gif, 2), Ok(3), "counting stops past the limit");
        assert_eq!(gif_frames(&gif[..12], 100), Ok(0), "no frame: the decoder refuses it");
        assert!(gif_frames(&gif[..gif.len() - 3], 100).is_err(), "cut inside a frame's data");
        assert_eq!(webp_frames(b"RIFF\x04\0\0\0WEBPVP8 ", 10), 1);
        assert_eq!(png_frames(b"\x89PNG\r\n\x1a\n"), 1);
    }
}
