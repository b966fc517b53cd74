//! JPEG through libjpeg-turbo's decoder (mozjpeg), the one Pillow uses: zune-jpeg's output
//! differed from it by up to 5 levels, which moved CLIP embeddings of photos by more than 1e-3
//! in cosine against the transformers reference. libjpeg also reads the header (size, EXIF
//! orientation), so that a file it decodes is never refused by another parser first.
//!
//! libjpeg reports fatal errors through a callback; ours unwinds out of it (the C code is
//! built with -fexceptions) and `catch_unwind` turns that into an error, never a crash.

use std::cell::Cell;
use std::io::{BufRead, Read, Seek};
use std::os::raw::c_int;
use std::panic;

use image::metadata::Orientation;
use mozjpeg::{ColorSpace, Decompress, Marker};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, JTRC_SOS, JWRN_JPEG_EOF};

/// Progressive JPEGs have a handful of scans (at most a few dozen); each scan is a pass over
/// every coefficient, so thousands of tiny scans make a small file take minutes to decode.
const MAX_SCANS: u32 = 500;

thread_local! {
    static HIT_END_OF_FILE: Cell<bool> = const { Cell::new(false) };
    static SCANS: Cell<u32> = const { Cell::new(0) };
}

/// Why libjpeg gave up, and whether it ran out of data first.
#[derive(Debug)]
pub struct JpegError {
    pub message: String,
    pub truncated: bool,
}

/// What the header says, before any pixel is allocated.
#[derive(Debug, Clone)]
pub struct Header {
    pub width: u32,
    pub height: u32,
    pub orientation: Orientation,
    /// The APP1 EXIF block's TIFF bytes.
    pub exif: Option<Vec<u8>>,
    cmyk: bool,
    /// Every DCT coefficient of a progressive image, held until the last scan, whatever the scale.
    coefficient_bytes: u64,
}

impl Header {
    /// Width and height of the output at `eighths`/8 of the full size: libjpeg rounds up.
    pub fn scaled_size(&self, eighths: u8) -> (u32, u32) {
        let scale = |side: u32| (u64::from(side) * u64::from(eighths)).div_ceil(8) as u32;
        (scale(self.width), scale(self.height))
    }

    /// Bytes the decoder holds at its peak at `eighths`/8 of the full size: the output, plus
    /// the RGB copy of a CMYK image, plus the coefficients of a progressive image.
    pub fn peak_bytes(&self, eighths: u8) -> u64 {
        let (width, height) = self.scaled_size(eighths);
        u64::from(width) * u64::from(height) * if self.cmyk { 4 + 3 } else { 3 } + self.coefficient_bytes
    }
}

unsafe extern "C-unwind" fn on_message(common: &mut jpeg_common_struct, level: c_int) {
    // SAFETY: libjpeg passes its own valid struct with `err` set.
    let code = unsafe { (*common.err).msg_code };
    if level < 0 && code == JWRN_JPEG_EOF as c_int {
        HIT_END_OF_FILE.with(|flag| flag.set(true));
    }
    if level == 1 && code == JTRC_SOS as c_int {
        let scans = SCANS.with(|scans| {
            scans.set(scans.get() + 1);
            scans.get()
        });
        if scans > MAX_SCANS {
            panic::resume_unwind(Box::new(format!("more than {MAX_SCANS} scans, refused as a decompression bomb")));
        }
    }
}

unsafe extern "C-unwind" fn on_fatal(common: &mut jpeg_common_struct) {
    let mut buffer = [0u8; 80];
    // SAFETY: format_message is always set by jpeg_std_error; libjpeg declares its buffer
    // argument as char[JMSG_LENGTH_MAX] (80 bytes).
    unsafe {
        if let Some(format_message) = (*common.err).format_message {
            let format_message: unsafe extern "C-unwind" fn(&mut jpeg_common_struct, &mut [u8; 80]) =
                std::mem::transmute(format_message);
            format_message(common, &mut buffer);
        }
    }
    let message = String::from_utf8_lossy(buffer.split(|&b| b == 0).next().unwrap_or_default()).into_owned();
    panic::resume_unwind(Box::new(message));
}

/// Reads the header only: size, EXIF orientation and the memory a decode will need.
pub fn read_header<R: BufRead + Seek>(reader: &mut R) -> Result<Header, JpegError> {
    let progressive = is_progressive(reader);
    reader.rewind().map_err(|error| JpegError { message: error.to_string(), truncated: false })?;
    guarded(|| {
        let decompress = open(&mut *reader)?;
        let cmyk = is_cmyk(&decompress);
        let coefficient_bytes: u64 = if progressive {
            // 64 coefficients of 2 bytes per 8x8 block, per component.
            decompress
                .components()
                .iter()
                .map(|c| u64::from(c.width_in_blocks) * u64::from(c.height_in_blocks) * 128)
                .sum()
        } else {
            0
        };
        let exif = decompress.markers().find_map(|marker| marker.data.strip_prefix(b"Exif\0\0").map(<[u8]>::to_vec));
        let orientation = exif.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
        Ok(Header {
            width: decompress.width() as u32,
            height: decompress.height() as u32,
            orientation,
            exif,
            cmyk,
            coefficient_bytes,
        })
    })
}

/// Decodes to RGB8 at `eighths`/8 of the full size (8: full size), without orientation.
/// Scaling happens in the inverse DCT, so a reduced decode skips most of the work.
pub fn decode(reader: impl BufRead, eighths: u8) -> Result<image::RgbImage, JpegError> {
    guarded(|| {
        let mut decompress = open(reader)?;
        decompress.scale(eighths);
        let cmyk = is_cmyk(&decompress);
        let adobe = decompress.markers().any(|marker| marker.data.starts_with(b"Adobe"));
        let mut started = if cmyk { decompress.to_colorspace(ColorSpace::JCS_CMYK) } else { decompress.rgb() }
            .map_err(|error| error.to_string())?;
        let (width, height) = (started.width() as u32, started.height() as u32);
        let pixels: Vec<u8> = started.read_scanlines().map_err(|error| error.to_string())?;
        started.finish().map_err(|error| error.to_string())?;
        let rgb = if cmyk { cmyk_to_rgb(&pixels, adobe) } else { pixels };
        image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| "decoded size does not match".into())
    })
}

/// Runs libjpeg with our error callbacks; a fatal error or a truncation becomes `Err`.
fn guarded<T>(run: impl FnOnce() -> Result<T, String>) -> Result<T, JpegError> {
    HIT_END_OF_FILE.with(|flag| flag.set(false));
    SCANS.with(|scans| scans.set(0));
    let outcome = crate::util::catch_panic("the JPEG decoder failed", run);
    let truncated = HIT_END_OF_FILE.with(Cell::get);
    let message = match outcome {
        Ok(Ok(_)) if truncated => "image file is truncated".to_string(),
        Ok(Ok(value)) => return Ok(value),
        Ok(Err(message)) | Err(message) => message,
    };
    Err(JpegError { message, truncated })
}

fn open<R: BufRead>(reader: R) -> Result<Decompress<R>, String> {
    // SAFETY: a zeroed jpeg_error_mgr is what jpeg_std_error expects to fill in.
    let mut errors: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    // SAFETY: `errors` is a live, exclusively borrowed jpeg_error_mgr; jpeg_std_error only
    // fills in its fields and keeps no pointer to it.
    unsafe { mozjpeg_sys::jpeg_std_error(&mut errors) };
    errors.error_exit = Some(on_fatal);
    // Also keeps libjpeg's warnings off stderr.
    errors.emit_message = Some(on_message);
    Decompress::builder()
        .with_err(errors)
        .with_markers(&[Marker::APP(1), Marker::APP(14)])
        .from_reader(reader)
        .map_err(|error| error.to_string())
}

fn is_cmyk<R>(decompress: &Decompress<R>) -> bool {
    matches!(decompress.color_space(), ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK)
}

/// Whether the frame header is progressive (SOF2, 6, 10, 14). A marker walk, since libjpeg
/// keeps that flag to itself; when the walk is unsure it says yes, which over-reserves.
pub fn is_progressive(reader: &mut (impl Read + Seek)) -> bool {
    frame_is_progressive(reader).unwrap_or(true)
}

fn frame_is_progressive(reader: &mut (impl Read + Seek)) -> std::io::Result<bool> {
    let mut pair = [0u8; 2];
    // SOI
    reader.read_exact(&mut pair)?;
    loop {
        reader.read_exact(&mut pair)?;
        if pair[0] != 0xFF {
            return Ok(true);
        }
        let mut marker = pair[1];
        // Fill bytes before a marker.
        while marker == 0xFF {
            reader.read_exact(&mut pair[..1])?;
            marker = pair[0];
        }
        match marker {
            0xC2 | 0xC6 | 0xCA | 0xCE => return Ok(true),
            0xC0 | 0xC1 | 0xC3 | 0xC5 | 0xC7 | 0xC9 | 0xCB | 0xCD | 0xCF => return Ok(false),
            // Markers without a length.
            0x01 | 0xD0..=0xD8 => {}
            _ => {
                reader.read_exact(&mut pair)?;
                let length = u16::from_be_bytes(pair);
                if length < 2 {
                    return Ok(true);
                }
                reader.seek_relative(i64::from(length) - 2)?;
            }
        }
    }
}

/// Pillow's conversion: R = (255 - K) - C * (255 - K) / 255; Adobe CMYK is stored inverted.
fn cmyk_to_rgb(pixels: &[u8], adobe: bool) -> Vec<u8> {
    let multiply = |a: u32, b: u32| {
        let t = a * b + 128;
        ((t >> 8) + t) >> 8
    };
    pixels
        .chunks_exact(4)
        .flat_map(|p| {
            let value = |i: usize| if adobe { u32::from(p[i]) } else { 255 - u32::from(p[i]) };
            [0, 1, 2].map(|i| (value(3) - multiply(255 - value(i), value(3))) as u8)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// A 16x16 JPEG of one CMYK colour, stored as CMYK or as YCCK (Adobe transform 2).
    fn cmyk_jpeg(cmyk: [u8; 4], stored_as: ColorSpace) -> Vec<u8> {
        let mut compress = mozjpeg::Compress::new(ColorSpace::JCS_CMYK);
        compress.set_size(16, 16);
        compress.set_color_space(stored_as);
        compress.set_quality(95.0);
        let mut started = compress.start_compress(Vec::new()).unwrap();
        let pixels: Vec<u8> = cmyk.iter().copied().cycle().take(16 * 16 * 4).collect();
        started.write_scanlines(&pixels).unwrap();
        started.finish().unwrap()
    }

    #[test]
    fn cmyk_and_ycck_decode_to_the_same_colours() {
        // Adobe-style inverted CMYK, as Photoshop writes it: 255 is no ink.
        let ink = [255, 255 - 200, 255 - 200, 255];
        for stored_as in [ColorSpace::JCS_CMYK, ColorSpace::JCS_YCCK] {
            let rgb = decode(cmyk_jpeg(ink, stored_as).as_slice(), 8).unwrap();
            let pixel = rgb.get_pixel(8, 8).0;
            // No cyan, much magenta and yellow: red.
            assert!(pixel[0] > 230 && pixel[1] < 80 && pixel[2] < 80, "{stored_as:?}: {pixel:?}");
        }
    }

    #[test]
    fn header_reads_size_and_progressive_memory() {
        let jpeg = cmyk_jpeg([0, 0, 0, 0], ColorSpace::JCS_CMYK);
        let header = read_header(&mut Cursor::new(&jpeg)).unwrap();
        assert_eq!((header.width, header.height), (16, 16));
        assert_eq!(header.orientation, Orientation::NoTransforms);
        // mozjpeg writes progressive files: four components of 2x2 blocks stay in memory.
        assert!(is_progressive(&mut Cursor::new(&jpeg)));
        assert_eq!(header.peak_bytes(8), 16 * 16 * 7 + 4 * 4 * 128, "CMYK output, its RGB copy, coefficients");
        assert_eq!(header.scaled_size(2), (4, 4));
        assert_eq!(header.peak_bytes(2), 4 * 4 * 7 + 4 * 4 * 128, "the coefficients stay whole at any scale");
    }

    #[test]
    fn a_truncated_file_is_told_apart_from_garbage() {
        let jpeg = cmyk_jpeg([10, 20, 30, 40], ColorSpace::JCS_YCCK);
        assert!(decode(&jpeg[..jpeg.len() / 2], 8).unwrap_err().truncated);
        let mut garbage = jpeg.clone();
        garbage.truncate(20);
        garbage.extend(std::iter::repeat_n(0x55, 200));
        let error = decode(garbage.as_slice(), 8).unwrap_err();
        assert!(!error.message.is_empty());
    }
}
