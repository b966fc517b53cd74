//! OS/2 2.x bitmaps (`BITMAPCOREHEADER2`), which the `image` crate refuses: the header, 64
//! bytes or any shorter form down to 16 (the fields it leaves out are zero), is rewritten in
//! memory as the 40-byte `BITMAPINFOHEADER` it begins with, and the pixel-data offset moved
//! with it. The palette (4-byte entries, as Windows has them) and pixels stay as they are.

use crate::item::ErrorClass;

use super::DecodeError;

const FILE_HEADER: usize = 14;
const INFO_HEADER: usize = 40;

/// The OS/2 2.x header's size, when the file has one: a size from 16 to 64 that is none of the
/// Windows headers' (40, 52, 56).
pub(super) fn os2_header_size(head: &[u8]) -> Option<usize> {
    let size = u32::from_le_bytes(head.get(FILE_HEADER..FILE_HEADER + 4)?.try_into().ok()?);
    let size = usize::try_from(size).ok()?;
    ((16..=64).contains(&size) && ![40, 52, 56].contains(&size)).then_some(size)
}

/// The file with its OS/2 2.x header as a `BITMAPINFOHEADER`.
pub(super) fn with_info_header(data: &[u8], header_size: usize) -> Result<Vec<u8>, DecodeError> {
    let refuse = |class, why: &str| DecodeError::new(class, format!("BMP: OS/2 2.x header: {why}"));
    let end = FILE_HEADER + header_size;
    let header = data.get(FILE_HEADER..end).ok_or_else(|| refuse(ErrorClass::Truncated, "the file ends inside it"))?;
    let mut info = [0u8; INFO_HEADER];
    let kept = header_size.min(INFO_HEADER);
    info[..kept].copy_from_slice(&header[..kept]);
    info[..4].copy_from_slice(&(INFO_HEADER as u32).to_le_bytes());
    // OS/2's compression 3 is Huffman 1D and 4 is RLE24, which Windows numbers otherwise.
    let compression = u32::from_le_bytes([info[16], info[17], info[18], info[19]]);
    if !matches!(compression, 0..=2) {
        let name = match compression {
            3 => "Huffman 1D",
            4 => "RLE24",
            _ => "an unknown",
        };
        return Err(refuse(ErrorClass::Unsupported, &format!("{name} compression ({compression}) is not supported")));
    }
    let moved = |field: &[u8]| {
        let value = i64::from(u32::from_le_bytes([field[0], field[1], field[2], field[3]]));
        u32::try_from(value + INFO_HEADER as i64 - header_size as i64).unwrap_or(0).to_le_bytes()
    };
    let mut file = Vec::with_capacity(data.len() + INFO_HEADER);
    file.extend_from_slice(&data[..2]);
    file.extend_from_slice(&moved(&data[2..6]));
    file.extend_from_slice(&data[6..10]);
    file.extend_from_slice(&moved(&data[10..14]));
    file.extend_from_slice(&info);
    file.extend_from_slice(&data[end..]);
    Ok(file)
}
