//! Content sniffing: the first bytes of a file, never its extension, pick the decoder. Files
//! that imbed cannot decode are named (JPEG XL, PDF, HTML, ...), so that their failure says
//! what they are.

use image::ImageFormat;

/// What the first bytes of a file say it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sniffed {
    /// A format imbed decodes.
    Image(ImageFormat),
    /// HEIC/HEIF or AVIF, decoded by libheif: "HEIC/HEIF" or "AVIF".
    Heif(&'static str),
    /// A format imbed does not decode, by name ("HEIC", "AVIF", "PDF", ...).
    Unsupported(String),
    /// Nothing known: the message says what the bytes look like.
    Unknown(String),
}

/// The formats the `image` features in Cargo.toml enable, plus JPEG (decoded by libjpeg).
const DECODED: &[ImageFormat] =
    &[ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::Gif, ImageFormat::WebP, ImageFormat::Bmp, ImageFormat::Tiff];

pub fn sniff(bytes: &[u8]) -> Sniffed {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        let kind = iso_media_kind(bytes);
        if kind == "AVIF" || kind == "HEIC/HEIF" {
            return Sniffed::Heif(kind);
        }
    }
    if let Some(name) = other_format(bytes) {
        return Sniffed::Unsupported(name.to_string());
    }
    // BigTIFF, which the `image` crate decodes but does not sniff.
    if bytes.starts_with(b"II+\0") || bytes.starts_with(b"MM\0+") {
        return Sniffed::Image(ImageFormat::Tiff);
    }
    match image::guess_format(bytes) {
        Ok(format) if DECODED.contains(&format) => Sniffed::Image(format),
        Ok(format) => Sniffed::Unsupported(format!("{format:?}").to_uppercase()),
        Err(_) => Sniffed::Unknown(describe_unknown(bytes)),
    }
}

/// Display name of a decoded format, for messages.
pub fn format_name(format: ImageFormat) -> &'static str {
    match format {
        ImageFormat::Jpeg => "JPEG",
        ImageFormat::Png => "PNG",
        ImageFormat::Gif => "GIF",
        ImageFormat::WebP => "WebP",
        ImageFormat::Bmp => "BMP",
        ImageFormat::Tiff => "TIFF",
        _ => "image",
    }
}

/// The length of the whole file, where the format's header says it: a RIFF (WebP) file
/// declares its size, so a decode error in a shorter file is a truncation.
pub fn declared_length(format: ImageFormat, head: &[u8]) -> Option<u64> {
    match (format, head.get(4..8)) {
        (ImageFormat::WebP, Some(size)) => Some(8 + u64::from(u32::from_le_bytes(size.try_into().ok()?))),
        _ => None,
    }
}

/// Formats that phones and cameras write but no decoder here reads.
fn other_format(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(iso_media_kind(bytes));
    }
    if bytes.starts_with(&[0xFF, 0x0A]) || bytes.starts_with(b"\0\0\0\x0CJXL \r\n\x87\n") {
        return Some("JPEG XL");
    }
    if bytes.starts_with(b"%PDF-") {
        return Some("PDF");
    }
    if bytes.starts_with(b"8BPS") {
        return Some("Photoshop (PSD)");
    }
    None
}

/// An ISO base media file (HEIF, AVIF, MP4, CR3), told apart by its `ftyp` brands.
fn iso_media_kind(bytes: &[u8]) -> &'static str {
    let box_size = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as usize;
    let end = box_size.clamp(12, bytes.len().min(256));
    // The major brand, then the compatible brands after the minor version.
    let brands: Vec<&[u8]> = std::iter::once(&bytes[8..12]).chain(bytes[16.min(end)..end].chunks_exact(4)).collect();
    let has = |names: &[&[u8; 4]]| brands.iter().any(|brand| names.iter().any(|name| *brand == name.as_slice()));
    if has(&[b"avif", b"avis"]) {
        "AVIF"
    } else if has(&[b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"]) {
        "HEIC/HEIF"
    } else if has(&[b"crx "]) {
        "Canon CR3 raw"
    } else {
        "a video or other ISO media file"
    }
}

/// "looks like HTML", "text", or the first bytes in hex.
fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = String::from_utf8_lossy(head);
    let trimmed = text.trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    let looks = if trimmed.starts_with("<!doctype html") || trimmed.starts_with("<html") || trimmed.contains("<head") {
        Some("HTML")
    } else if trimmed.starts_with("<svg") || (trimmed.starts_with("<?xml") && trimmed.contains("<svg")) {
        Some("SVG, a vector format imbed does not rasterise")
    } else if trimmed.starts_with("<?xml") {
        Some("XML")
    } else if trimmed.starts_with('{') || trimmed.starts_with('[') {
        Some("JSON")
    } else if head.iter().all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace()) {
        Some("text")
    } else {
        None
    };
    match looks {
        Some(kind) => format!("not an image: the file looks like {kind}"),
        None => {
            let hex: Vec<String> = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
            format!("not a recognised image format (starts with {})", hex.join(" "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_what_it_cannot_decode() {
        let cr3 = b"\0\0\0\x18ftypcrx \0\0\0\x01crx isom";
        assert_eq!(sniff(cr3), Sniffed::Unsupported("Canon CR3 raw".into()));
        assert_eq!(sniff(b"%PDF-1.7\n"), Sniffed::Unsupported("PDF".into()));
        assert_eq!(sniff(b"qoif\0\0\0\x10"), Sniffed::Unsupported("QOI".into()));
        let html = sniff(b"\n  <!DOCTYPE html><html><body>404</body></html>");
        assert_eq!(html, Sniffed::Unknown("not an image: the file looks like HTML".into()));
        assert!(matches!(sniff(&[0x00, 0x9c, 0x01]), Sniffed::Unknown(m) if m.contains("00 9c 01")));
    }

    #[test]
    fn the_content_wins_over_the_extension() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0"), Sniffed::Image(ImageFormat::Png));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Sniffed::Image(ImageFormat::Jpeg));
        assert_eq!(sniff(b"RIFF\x10\0\0\0WEBPVP8 "), Sniffed::Image(ImageFormat::WebP));
        assert_eq!(sniff(b"II+\0\x08\0\0\0"), Sniffed::Image(ImageFormat::Tiff), "BigTIFF");
        assert_eq!(sniff(b"MM\0+\0\x08\0\0"), Sniffed::Image(ImageFormat::Tiff), "big-endian BigTIFF");
        let heic = b"\0\0\0\x18ftypheic\0\0\0\0mif1heic";
        assert_eq!(sniff(heic), Sniffed::Heif("HEIC/HEIF"));
        let avif = b"\0\0\0\x1cftypavif\0\0\0\0avifmif1miaf";
        assert_eq!(sniff(avif), Sniffed::Heif("AVIF"));
        let avif_in_mif1 = b"\0\0\0\x1cftypmif1\0\0\0\0mif1avifmiaf";
        assert_eq!(sniff(avif_in_mif1), Sniffed::Heif("AVIF"));
    }
}
