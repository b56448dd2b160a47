//! Media types as people say them: "a PNG image", "a Windows program", "images".

/// What a file of media type `mime` is, with its article: "a PNG image", "a Windows program",
/// "a file" when the type says nothing more.
#[must_use]
pub fn type_in_words(mime: &str) -> String {
    let essence = mime.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    let (kind, subtype) = essence.split_once('/').unwrap_or((essence.as_str(), ""));
    let named = match essence.as_str() {
        "image/png" | "image/x-png" => "a PNG image",
        "image/jpeg" | "image/jpg" | "image/pjpeg" => "a JPEG image",
        "image/gif" => "a GIF image",
        "image/webp" => "a WebP image",
        "image/svg+xml" => "an SVG image",
        "image/heic" | "image/heif" => "a HEIC photo",
        "image/avif" => "an AVIF image",
        "image/bmp" => "a BMP image",
        "image/tiff" => "a TIFF image",
        "image/x-icon" | "image/vnd.microsoft.icon" => "an icon",
        "application/pdf" | "application/x-pdf" => "a PDF document",
        "text/plain" => "a text file",
        "text/html" => "a web page",
        "text/csv" => "a spreadsheet (CSV)",
        "text/markdown" => "a Markdown text",
        "application/json" => "a JSON file",
        "application/xml" | "text/xml" => "an XML file",
        "application/zip" | "application/x-zip-compressed" => "a ZIP archive",
        "application/gzip" | "application/x-gzip" => "a gzip archive",
        "application/x-tar" => "a tar archive",
        "application/x-7z-compressed" => "a 7-Zip archive",
        "application/vnd.rar" | "application/x-rar-compressed" => "a RAR archive",
        "application/x-msdownload" | "application/vnd.microsoft.portable-executable" | "application/x-dosexec" => {
            "a Windows program"
        }
        "application/x-executable" | "application/x-elf" | "application/x-sharedlib" => "a Linux program",
        "application/x-mach-binary" => "a Mac program",
        "application/x-sh" | "application/x-shellscript" => "a shell script",
        "application/javascript" | "text/javascript" => "a script",
        "application/msword" | "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => {
            "a Word document"
        }
        "application/vnd.ms-excel" | "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => {
            "an Excel spreadsheet"
        }
        "application/vnd.ms-powerpoint"
        | "application/vnd.openxmlformats-officedocument.presentationml.presentation" => "a PowerPoint presentation",
        "application/epub+zip" => "an e-book",
        "application/octet-stream" => "a file",
        _ => "",
    };
    if !named.is_empty() {
        return named.to_owned();
    }
    match kind {
        "image" => format!("an image ({})", subtype.to_ascii_uppercase()),
        "video" => "a video".to_owned(),
        "audio" => "a sound file".to_owned(),
        "text" => "a text file".to_owned(),
        "font" => "a font".to_owned(),
        _ => "a file of another kind".to_owned(),
    }
}

/// An allowed type pattern in words, plural: "images", "PDF documents", "any file".
#[must_use]
pub fn pattern_in_words(pattern: &str) -> String {
    match pattern {
        "*/*" => return "any file".to_owned(),
        "image/*" => return "images".to_owned(),
        "video/*" => return "videos".to_owned(),
        "audio/*" => return "sound files".to_owned(),
        "text/*" => return "text files".to_owned(),
        "font/*" => return "fonts".to_owned(),
        _ => {}
    }
    let one = type_in_words(pattern);
    let without_article = one.strip_prefix("an ").or_else(|| one.strip_prefix("a ")).unwrap_or(&one).to_owned();
    match without_article.split_once(" (") {
        Some((head, tail)) => format!("{head}s ({tail}"),
        None if without_article.ends_with('s') => without_article,
        None => format!("{without_article}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_read_like_people_say_them() {
        assert_eq!(type_in_words("image/png"), "a PNG image");
        assert_eq!(type_in_words("application/vnd.microsoft.portable-executable"), "a Windows program");
        assert_eq!(type_in_words("text/plain; charset=utf-8"), "a text file");
        assert_eq!(type_in_words("video/mp4"), "a video");
        assert_eq!(type_in_words("chemical/x-pdb"), "a file of another kind");
        assert_eq!(pattern_in_words("image/*"), "images");
        assert_eq!(pattern_in_words("application/pdf"), "PDF documents");
        assert_eq!(pattern_in_words("text/plain"), "text files");
        assert_eq!(pattern_in_words("text/csv"), "spreadsheets (CSV)");
    }
}
