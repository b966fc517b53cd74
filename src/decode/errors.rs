//! Decoder errors to error classes: what was cut short is `truncated`, the rest `corrupt`.

use image::ImageError;

use super::{jpeg, DecodeError};
use crate::item::ErrorClass;

pub(super) fn jpeg_failure(name: &str, error: jpeg::JpegError) -> DecodeError {
    // Skipping a segment that runs past the end of the file is a read error to libjpeg.
    if error.message == "Input file read error" {
        return DecodeError::new(ErrorClass::Truncated, format!("{name}: the file ends inside a segment"));
    }
    let class =
        if error.truncated || looks_truncated(&error.message) { ErrorClass::Truncated } else { ErrorClass::Corrupt };
    DecodeError::new(class, format!("{name}: {}", error.message))
}

pub(super) fn read_failure(name: &str, error: &std::io::Error) -> DecodeError {
    DecodeError::new(ErrorClass::from_io(error), format!("{name}: cannot read the file: {error}"))
}

pub(super) fn classify(name: &str, error: ImageError, cut_short: bool) -> DecodeError {
    let class = match &error {
        ImageError::Decoding(_) if cut_short => ErrorClass::Truncated,
        // The limits leave room for any image under --max-pixels: a damaged header asks more.
        ImageError::Limits(_) => {
            return DecodeError::new(
                ErrorClass::TooLarge,
                format!("{name}: decoding would need more memory than allowed, likely a damaged header ({error})"),
            )
        }
        ImageError::Unsupported(_) => ErrorClass::Unsupported,
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => ErrorClass::Truncated,
        ImageError::IoError(io) if io.kind() == std::io::ErrorKind::InvalidData => ErrorClass::Corrupt,
        ImageError::IoError(io) => ErrorClass::from_io(io),
        _ if looks_truncated(&error.to_string()) => ErrorClass::Truncated,
        _ => ErrorClass::Corrupt,
    };
    let message = match class {
        ErrorClass::Truncated => format!("{name}: the file ends early ({error})"),
        _ => format!("{name}: {error}"),
    };
    DecodeError::new(class, message)
}

/// Decoders say "EOF", "unexpected end of file", "failed to fill whole buffer" (read_exact)...
pub(super) fn looks_truncated(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    // A word, so that "TileOffsets" is not an EOF.
    message.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == "eof")
        || ["end of file", "truncated", "unexpected end", "not enough data", "premature end", "failed to fill"]
            .iter()
            .any(|m| message.contains(m))
}
