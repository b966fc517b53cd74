//! Bytes to an upright RGB image: content sniffing, EXIF orientation, alpha over white, size limits.

use std::io::Cursor;
use std::path::Path;
use std::time::SystemTime;

use image::{DynamicImage, ImageDecoder, ImageError, ImageReader, RgbImage};

use crate::item::ErrorClass;

mod jpeg;

/// Images above this many pixels fail as `too_large` before their pixels are allocated.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;

/// A decoded image and the facts about its file that go into the payload.
pub struct DecodedImage {
    pub rgb: RgbImage,
    /// Dimensions after EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    pub size_bytes: u64,
    pub modified: Option<SystemTime>,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub class: ErrorClass,
    pub message: String,
}

impl DecodeError {
    fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into() }
    }
}

pub fn decode_file(path: &Path, max_pixels: u64) -> Result<DecodedImage, DecodeError> {
    let io_error = |error: std::io::Error| DecodeError::new(ErrorClass::from_io(&error), error.to_string());
    let metadata = std::fs::metadata(path).map_err(io_error)?;
    if metadata.is_dir() {
        return Err(DecodeError::new(ErrorClass::Unsupported, "is a directory"));
    }
    let bytes = std::fs::read(path).map_err(io_error)?;
    let mut image = decode_bytes(&bytes, max_pixels)?;
    image.size_bytes = metadata.len();
    image.modified = metadata.modified().ok();
    Ok(image)
}

pub fn decode_bytes(bytes: &[u8], max_pixels: u64) -> Result<DecodedImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::new(ErrorClass::Empty, "file is empty"));
    }
    let format = image::guess_format(bytes)
        .map_err(|_| DecodeError::new(ErrorClass::Unsupported, "not a recognised image format"))?;
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(image::Limits::default());
    let mut decoder = reader.into_decoder().map_err(classify)?;
    let (width, height) = decoder.dimensions();
    let pixels = u64::from(width) * u64::from(height);
    if pixels > max_pixels {
        return Err(DecodeError::new(
            ErrorClass::TooLarge,
            format!("{width}x{height} is {pixels} pixels, above the limit of {max_pixels}"),
        ));
    }
    let orientation = decoder.orientation().unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut image = if format == image::ImageFormat::Jpeg {
        drop(decoder);
        let rgb = jpeg::decode(bytes).map_err(|reason| {
            let class = if looks_truncated(&reason) { ErrorClass::Truncated } else { ErrorClass::Corrupt };
            DecodeError::new(class, reason)
        })?;
        DynamicImage::ImageRgb8(rgb)
    } else {
        DynamicImage::from_decoder(decoder).map_err(classify)?
    };
    image.apply_orientation(orientation);
    let rgb = flatten_to_rgb(image);
    Ok(DecodedImage {
        width: rgb.width(),
        height: rgb.height(),
        rgb,
        format: format.extensions_str().first().copied().unwrap_or("unknown"),
        size_bytes: bytes.len() as u64,
        modified: None,
    })
}

/// Composites alpha over white, as the reference preprocessors do when converting to RGB.
fn flatten_to_rgb(image: DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.into_rgb8();
    }
    let rgba = image.into_rgba8();
    let (width, height) = rgba.dimensions();
    let mut rgb = RgbImage::new(width, height);
    for (out, pixel) in rgb.pixels_mut().zip(rgba.pixels()) {
        let [r, g, b, a] = pixel.0;
        let over_white = |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a)) + 127) / 255) as u8;
        out.0 = [over_white(r), over_white(g), over_white(b)];
    }
    rgb
}

fn classify(error: ImageError) -> DecodeError {
    let class = match &error {
        ImageError::Limits(_) => ErrorClass::TooLarge,
        ImageError::Unsupported(_) => ErrorClass::Unsupported,
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => ErrorClass::Truncated,
        ImageError::IoError(io) => ErrorClass::from_io(io),
        ImageError::Decoding(_) if looks_truncated(&error.to_string()) => ErrorClass::Truncated,
        _ => ErrorClass::Corrupt,
    };
    DecodeError::new(class, error.to_string())
}

fn looks_truncated(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    ["eof", "end of file", "truncated", "unexpected end", "not enough data"].iter().any(|m| message.contains(m))
}
