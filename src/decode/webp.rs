//! WebP's RIFF chunks, checked against the file before image-webp reads them: it allocates a
//! metadata chunk (EXIF, ICC, XMP) at the size the chunk header claims, so a 200-byte file
//! could ask for gigabytes.

use std::io::{Read, Seek, SeekFrom};

use crate::item::ErrorClass;

use super::DecodeError;

/// Fails when a top-level chunk claims to end beyond the file's `length` bytes.
pub fn check_chunks(reader: &mut (impl Read + Seek), length: u64) -> Result<(), DecodeError> {
    let walked = walk(reader, length);
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

/// The first chunk that does not fit, with where it claims to end.
fn walk(reader: &mut (impl Read + Seek), length: u64) -> std::io::Result<Option<(String, u64)>> {
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
