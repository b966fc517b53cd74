//! WebP: still images through libwebp, animations through image-webp (their first frame).
//!
//! libwebp decodes the bench photos (2-3 MP, lossy) in 11.3 ms where image-webp takes 35.2 ms,
//! one core each; it is also what Pillow decodes with. Its scaled decoding gained nothing
//! (12.0 ms at twice the model's input), so it decodes at full size.
//!
//! The RIFF chunks are checked against the file before either decoder reads them: image-webp
//! allocates a metadata chunk (EXIF, ICC, XMP) at the size the chunk header claims, so a
//! 200-byte file could ask for gigabytes.

use std::io::{Read, Seek, SeekFrom};

use image::{DynamicImage, RgbImage, RgbaImage};
use libwebp_sys::{VP8StatusCode, WebPDecode, WebPDecoderConfig, WebPGetFeatures, WEBP_CSP_MODE};

use crate::item::ErrorClass;

use super::DecodeError;

/// What the first bytes of a WebP file say.
#[derive(Debug, Clone, Copy)]
pub struct Features {
    pub width: u32,
    pub height: u32,
    pub has_alpha: bool,
    pub animated: bool,
}

impl Features {
    /// Reads the header from `head`, the first bytes of the file (a few dozen are enough).
    pub fn read(head: &[u8]) -> Result<Self, DecodeError> {
        let mut config = new_config()?;
        // SAFETY: libwebp reads at most `head.len()` bytes and writes only `config.input`.
        let status = unsafe { WebPGetFeatures(head.as_ptr(), head.len(), &mut config.input) };
        check(status, "reading the header")?;
        let side = |value: i32| u32::try_from(value).unwrap_or(0);
        Ok(Self {
            width: side(config.input.width),
            height: side(config.input.height),
            has_alpha: config.input.has_alpha != 0,
            animated: config.input.has_animation != 0,
        })
    }

    /// Bytes libwebp holds at its peak besides the output: a lossless image decodes into 32-bit pixels.
    pub fn working_bytes(&self) -> u64 {
        4 * u64::from(self.width) * u64::from(self.height)
    }
}

/// Decodes the still image in `data`, the whole file, into RGB, or RGBA when it has alpha.
pub fn decode(data: &[u8], features: &Features) -> Result<DynamicImage, DecodeError> {
    let mut config = new_config()?;
    let channels: usize = if features.has_alpha { 4 } else { 3 };
    let (width, height) = (features.width as usize, features.height as usize);
    let stride = width * channels;
    let mut pixels = vec![0u8; stride * height];
    config.output.colorspace = if features.has_alpha { WEBP_CSP_MODE::MODE_RGBA } else { WEBP_CSP_MODE::MODE_RGB };
    config.output.is_external_memory = 1;
    // The union's RGBA member is the one libwebp uses for the RGB(A) modes set above.
    config.output.u.RGBA.rgba = pixels.as_mut_ptr();
    config.output.u.RGBA.stride = i32::try_from(stride).map_err(|_| too_wide(width))?;
    config.output.u.RGBA.size = pixels.len();
    // SAFETY: libwebp reads `data` and writes at most `size` bytes, `stride` apart, into `pixels`;
    // it checks that the image, whose header may differ from `features`, fits.
    let status = unsafe { WebPDecode(data.as_ptr(), data.len(), &mut config) };
    check(status, "decoding")?;
    let (width, height) = (features.width, features.height);
    let image = if features.has_alpha {
        RgbaImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, pixels).map(DynamicImage::ImageRgb8)
    };
    image.ok_or_else(|| DecodeError::new(ErrorClass::Corrupt, "WebP: decoded size does not match the header"))
}

/// The EXIF orientation in `data`, the whole file; none without an EXIF chunk.
/// The EXIF chunk's TIFF bytes (some writers keep the JPEG `Exif\0\0` prefix).
pub fn exif(data: &[u8]) -> Option<Vec<u8>> {
    let mut cursor = std::io::Cursor::new(data);
    let mut exif = None;
    let _ = each_chunk(&mut cursor, data.len() as u64, |name, start, end| {
        if name == *b"EXIF" {
            exif = Some(start as usize..end as usize);
        }
    });
    let chunk = data.get(exif?)?;
    Some(chunk.strip_prefix(b"Exif\0\0").unwrap_or(chunk).to_vec())
}

fn new_config() -> Result<WebPDecoderConfig, DecodeError> {
    WebPDecoderConfig::new()
        .map_err(|()| DecodeError::new(ErrorClass::Corrupt, "WebP: libwebp refused its own decoder version"))
}

fn too_wide(width: usize) -> DecodeError {
    DecodeError::new(ErrorClass::TooLarge, format!("WebP: {width} pixels wide is too wide to decode"))
}

fn check(status: VP8StatusCode, doing: &str) -> Result<(), DecodeError> {
    use VP8StatusCode::*;
    let (class, why) = match status {
        VP8_STATUS_OK => return Ok(()),
        VP8_STATUS_NOT_ENOUGH_DATA => (ErrorClass::Truncated, "the file ends early"),
        VP8_STATUS_UNSUPPORTED_FEATURE => (ErrorClass::Unsupported, "an unsupported feature"),
        VP8_STATUS_OUT_OF_MEMORY => (ErrorClass::TooLarge, "out of memory"),
        VP8_STATUS_BITSTREAM_ERROR | VP8_STATUS_INVALID_PARAM | VP8_STATUS_SUSPENDED | VP8_STATUS_USER_ABORT => {
            (ErrorClass::Corrupt, "a damaged bitstream")
        }
    };
    Err(DecodeError::new(class, format!("WebP: {why} ({doing}, libwebp status {})", status as i32)))
}

/// Fails when a top-level chunk claims to end beyond the file's `length` bytes.
pub fn check_chunks(reader: &mut (impl Read + Seek), length: u64) -> Result<(), DecodeError> {
    let walked = each_chunk(reader, length, |_, _, _| {});
    reader.rewind().map_err(|error| DecodeError::new(ErrorClass::from_io(&error), error.to_string()))?;
    match walked {
        Ok(None) => Ok(()),
        Ok(Some((name, end))) => Err(DecodeError::new(
            ErrorClass::Truncated,
            format!("WebP: the {name} chunk ends at byte {end}, beyond the end of the file ({length} bytes)"),
        )),
        Err(error) => Err(DecodeError::new(ErrorClass::from_io(&error), format!("WebP: {error}"))),
    }
}

/// Calls `visit` with each top-level chunk's name and data range, up to the first that does
/// not fit in `length` bytes, which it returns with where it claims to end.
fn each_chunk(
    reader: &mut (impl Read + Seek),
    length: u64,
    mut visit: impl FnMut([u8; 4], u64, u64),
) -> std::io::Result<Option<(String, u64)>> {
    // "RIFF", size, "WEBP", then chunks of fourcc, size (little-endian), data padded to even.
    let mut at = 12;
    let mut header = [0u8; 8];
    while at + 8 <= length {
        reader.seek(SeekFrom::Start(at))?;
        reader.read_exact(&mut header)?;
        let size = u64::from(u32::from_le_bytes([header[4], header[5], header[6], header[7]]));
        let end = at + 8 + size;
        if end > length {
            return Ok(Some((String::from_utf8_lossy(&header[..4]).trim_end().to_string(), end)));
        }
        visit([header[0], header[1], header[2], header[3]], at + 8, end);
        at = end + (size & 1);
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_that_claims_more_than_the_file_is_refused() {
        let mut webp = b"RIFF\x20\0\0\0WEBPVP8L\x05\0\0\0\x2f\0\0\0\0\0EXIF".to_vec();
        webp.extend_from_slice(&0xA0000000u32.to_le_bytes());
        webp.extend_from_slice(b"MM\0*");
        let error = check_chunks(&mut std::io::Cursor::new(&webp), webp.len() as u64).unwrap_err();
        assert_eq!(error.class, ErrorClass::Truncated);
        assert!(error.message.contains("EXIF chunk ends at byte 2684354594"), "{}", error.message);
        webp.truncate(26);
        assert!(check_chunks(&mut std::io::Cursor::new(&webp), 26).is_ok(), "chunks that fit");
    }
}
