//! JPEG pixels through libjpeg-turbo's decoder (mozjpeg), the one Pillow uses: zune-jpeg's
//! output differed from it by up to 5 levels, which moved CLIP embeddings of photos by more
//! than 1e-3 in cosine against the transformers reference.
//!
//! libjpeg reports fatal errors through a callback; ours unwinds out of it (the C code is
//! built with -fexceptions) and `catch_unwind` turns that into an error, never a crash.

use std::cell::Cell;
use std::os::raw::c_int;
use std::panic;

use mozjpeg::{ColorSpace, Decompress, Marker};
use mozjpeg_sys::{jpeg_common_struct, jpeg_error_mgr, JWRN_JPEG_EOF};

thread_local! {
    static HIT_END_OF_FILE: Cell<bool> = const { Cell::new(false) };
}

unsafe extern "C-unwind" fn on_message(common: &mut jpeg_common_struct, level: c_int) {
    // SAFETY: libjpeg passes its own valid struct with `err` set.
    if level < 0 && unsafe { (*common.err).msg_code } == JWRN_JPEG_EOF as c_int {
        HIT_END_OF_FILE.with(|flag| flag.set(true));
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

/// Decodes to RGB8 at full size. `Err` carries libjpeg's reason.
pub fn decode(bytes: &[u8]) -> Result<image::RgbImage, String> {
    HIT_END_OF_FILE.with(|flag| flag.set(false));
    let outcome = panic::catch_unwind(panic::AssertUnwindSafe(|| decode_unguarded(bytes)));
    outcome.unwrap_or_else(|payload| {
        Err(payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the JPEG decoder failed".into()))
    })
}

fn decode_unguarded(bytes: &[u8]) -> Result<image::RgbImage, String> {
    // SAFETY: a zeroed jpeg_error_mgr is what jpeg_std_error expects to fill in.
    let mut errors: jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { mozjpeg_sys::jpeg_std_error(&mut errors) };
    errors.error_exit = Some(on_fatal);
    // Also keeps libjpeg's warnings off stderr.
    errors.emit_message = Some(on_message);
    let decompress = Decompress::builder()
        .with_err(errors)
        .with_markers(&[Marker::APP(14)])
        .from_mem(bytes)
        .map_err(|error| error.to_string())?;
    let cmyk = matches!(decompress.color_space(), ColorSpace::JCS_CMYK | ColorSpace::JCS_YCCK);
    let adobe = decompress.markers().any(|marker| marker.data.starts_with(b"Adobe"));
    let mut started = if cmyk { decompress.to_colorspace(ColorSpace::JCS_CMYK) } else { decompress.rgb() }
        .map_err(|error| error.to_string())?;
    let (width, height) = (started.width() as u32, started.height() as u32);
    let pixels: Vec<u8> = started.read_scanlines().map_err(|error| error.to_string())?;
    started.finish().map_err(|error| error.to_string())?;
    if HIT_END_OF_FILE.with(Cell::get) {
        return Err("image file is truncated".into());
    }
    let rgb = if cmyk { cmyk_to_rgb(&pixels, adobe) } else { pixels };
    image::RgbImage::from_raw(width, height, rgb).ok_or_else(|| "decoded size does not match".into())
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
