//! The TIFF variants the `image` crate refuses, through the system libtiff, the library Pillow
//! decodes TIFF with: palette, gray with alpha, YCbCr (raw and JPEG), CCITT Group 3, LZMA, and
//! 32-bit float or integer gray. imbed loads Debian 12's `libtiff6` (4.5) at run time, as it
//! loads libheif; without it these files fail as `unsupported`, naming the package. Ordinary
//! TIFFs stay on the `image` crate, which is tried first: libtiff is asked only when the
//! `image` crate answers `unsupported`.
//!
//! What libtiff's RGBA interface reads (`TIFFReadRGBAImageOriented`) comes out 8-bit; float
//! and 32-bit integer gray, which it refuses, are read by scanline and brought to 8 bits as
//! Pillow's `convert("RGB")` does: floats truncated, integers clamped to 0..255. The
//! `Orientation` tag is applied by the caller, as for the `image` crate's TIFFs.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::Read;
use std::ptr;
use std::sync::OnceLock;

use image::metadata::Orientation;
use image::{DynamicImage, GrayImage, RgbImage, RgbaImage};

use super::errors::{looks_truncated, read_failure};
use super::{allocation_limits, check_pixels, orientation_bytes, DecodeError, DecodeOptions, MemoryBudget, Stored};
use crate::item::ErrorClass;

const NAME: &str = "TIFF";

type Tiff = c_void;
type OpenOptions = c_void;
/// libtiff's `va_list` argument: a pointer on x86-64 and AArch64 Linux, where a `va_list`
/// parameter is an array (x86-64) or a large struct passed by reference (AArch64).
type VaList = *mut c_void;
type ReadProc = unsafe extern "C" fn(*mut c_void, *mut c_void, isize) -> isize;
type SeekProc = unsafe extern "C" fn(*mut c_void, u64, c_int) -> u64;
type CloseProc = unsafe extern "C" fn(*mut c_void) -> c_int;
type SizeProc = unsafe extern "C" fn(*mut c_void) -> u64;
type MapProc = unsafe extern "C" fn(*mut c_void, *mut *mut c_void, *mut u64) -> c_int;
type UnmapProc = unsafe extern "C" fn(*mut c_void, *mut c_void, u64);
type HandlerExtR = unsafe extern "C" fn(*mut Tiff, *mut c_void, *const c_char, *const c_char, VaList) -> c_int;
type Handler = unsafe extern "C" fn(*const c_char, *const c_char, VaList);

const TAG_IMAGE_WIDTH: u32 = 256;
const TAG_IMAGE_LENGTH: u32 = 257;
const TAG_BITS_PER_SAMPLE: u32 = 258;
const TAG_PHOTOMETRIC: u32 = 262;
const TAG_ORIENTATION: u32 = 274;
const TAG_SAMPLES_PER_PIXEL: u32 = 277;
const TAG_TILE_WIDTH: u32 = 322;
const TAG_TILE_LENGTH: u32 = 323;
const TAG_EXTRA_SAMPLES: u32 = 338;
const TAG_SAMPLE_FORMAT: u32 = 339;
const PHOTOMETRIC_MINISWHITE: u16 = 0;
const PHOTOMETRIC_MINISBLACK: u16 = 1;
const SAMPLE_FORMAT_UINT: u16 = 1;
const SAMPLE_FORMAT_INT: u16 = 2;
const SAMPLE_FORMAT_IEEEFP: u16 = 3;

/// The libtiff functions imbed calls, with the signatures of tiffio.h 4.5 (the first
/// `libtiff.so.6`, which brought `TIFFClientOpenExt` and its options).
struct Api {
    options_alloc: unsafe extern "C" fn() -> *mut OpenOptions,
    options_free: unsafe extern "C" fn(*mut OpenOptions),
    options_max_alloc: unsafe extern "C" fn(*mut OpenOptions, isize),
    options_error_handler: unsafe extern "C" fn(*mut OpenOptions, Option<HandlerExtR>, *mut c_void),
    options_warning_handler: unsafe extern "C" fn(*mut OpenOptions, Option<HandlerExtR>, *mut c_void),
    #[allow(clippy::type_complexity)]
    client_open: unsafe extern "C" fn(
        *const c_char,
        *const c_char,
        *mut c_void,
        ReadProc,
        ReadProc,
        SeekProc,
        CloseProc,
        SizeProc,
        MapProc,
        UnmapProc,
        *mut OpenOptions,
    ) -> *mut Tiff,
    close: unsafe extern "C" fn(*mut Tiff),
    get_field_defaulted: unsafe extern "C" fn(*mut Tiff, u32, ...) -> c_int,
    strips: unsafe extern "C" fn(*mut Tiff) -> u32,
    tiles: unsafe extern "C" fn(*mut Tiff) -> u32,
    strile_offset: unsafe extern "C" fn(*mut Tiff, u32) -> u64,
    strile_length: unsafe extern "C" fn(*mut Tiff, u32) -> u64,
    rgba_ok: unsafe extern "C" fn(*mut Tiff, *mut c_char) -> c_int,
    read_rgba: unsafe extern "C" fn(*mut Tiff, u32, u32, *mut u32, c_int, c_int) -> c_int,
    is_tiled: unsafe extern "C" fn(*mut Tiff) -> c_int,
    scanline_size: unsafe extern "C" fn(*mut Tiff) -> u64,
    read_scanline: unsafe extern "C" fn(*mut Tiff, *mut c_void, u32, u16) -> c_int,
    tile_size: unsafe extern "C" fn(*mut Tiff) -> u64,
    read_tile: unsafe extern "C" fn(*mut Tiff, *mut c_void, u32, u32, u32, u16) -> isize,
    _library: libloading::Library,
}

fn api() -> Result<&'static Api, String> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(Clone::clone)
}

fn load() -> Result<Api, String> {
    let missing = |error: libloading::Error| {
        format!("libtiff is not installed ({error}); scripts/setup installs Debian's libtiff6")
    };
    // SAFETY: libtiff's initialisers are sound to run; each symbol below is declared with the
    // C signature tiffio.h 4.5 gives it, and the library is kept loaded inside the Api. The
    // process-wide handlers are set to none once, before any TIFF is opened: libtiff would
    // print to stderr otherwise (each open also gets handlers of its own, which capture).
    unsafe {
        let library = libloading::Library::new("libtiff.so.6").map_err(missing)?;
        macro_rules! get {
            ($name:literal) => {
                *library.get(concat!($name, "\0").as_bytes()).map_err(missing)?
            };
        }
        let set_error: unsafe extern "C" fn(Option<Handler>) -> Option<Handler> = get!("TIFFSetErrorHandler");
        let set_warning: unsafe extern "C" fn(Option<Handler>) -> Option<Handler> = get!("TIFFSetWarningHandler");
        set_error(None);
        set_warning(None);
        Ok(Api {
            options_alloc: get!("TIFFOpenOptionsAlloc"),
            options_free: get!("TIFFOpenOptionsFree"),
            options_max_alloc: get!("TIFFOpenOptionsSetMaxSingleMemAlloc"),
            options_error_handler: get!("TIFFOpenOptionsSetErrorHandlerExtR"),
            options_warning_handler: get!("TIFFOpenOptionsSetWarningHandlerExtR"),
            client_open: get!("TIFFClientOpenExt"),
            close: get!("TIFFClose"),
            get_field_defaulted: get!("TIFFGetFieldDefaulted"),
            strips: get!("TIFFNumberOfStrips"),
            tiles: get!("TIFFNumberOfTiles"),
            strile_offset: get!("TIFFGetStrileOffset"),
            strile_length: get!("TIFFGetStrileByteCount"),
            rgba_ok: get!("TIFFRGBAImageOK"),
            read_rgba: get!("TIFFReadRGBAImageOriented"),
            is_tiled: get!("TIFFIsTiled"),
            scanline_size: get!("TIFFScanlineSize64"),
            read_scanline: get!("TIFFReadScanline"),
            tile_size: get!("TIFFTileSize64"),
            read_tile: get!("TIFFReadTile"),
            _library: library,
        })
    }
}

/// The file's bytes, which libtiff reads through the callbacks below, and the errors it reports.
struct Source<'a> {
    data: &'a [u8],
    at: u64,
    /// The first few, in order: the first says what went wrong.
    errors: Vec<String>,
}

/// The source behind libtiff's client handle.
///
/// # Safety
/// `handle` is the `Source` given to `TIFFClientOpenExt`, alive while the TIFF is open.
unsafe fn source<'a>(handle: *mut c_void) -> &'a mut Source<'a> {
    &mut *handle.cast::<Source>()
}

unsafe extern "C" fn read(handle: *mut c_void, buffer: *mut c_void, size: isize) -> isize {
    // SAFETY: libtiff passes the handle it was given and a buffer of `size` writable bytes.
    let source = unsafe { source(handle) };
    let start = usize::try_from(source.at).unwrap_or(usize::MAX).min(source.data.len());
    let count = usize::try_from(size).unwrap_or(0).min(source.data.len() - start);
    // SAFETY: as above; `count` bytes are in bounds of both.
    unsafe { ptr::copy_nonoverlapping(source.data.as_ptr().add(start), buffer.cast::<u8>(), count) };
    source.at += count as u64;
    count as isize
}

unsafe extern "C" fn write(_: *mut c_void, _: *mut c_void, _: isize) -> isize {
    -1
}

unsafe extern "C" fn seek(handle: *mut c_void, offset: u64, whence: c_int) -> u64 {
    // SAFETY: libtiff passes the handle it was given.
    let source = unsafe { source(handle) };
    let base = match whence {
        0 => 0,
        1 => i128::from(source.at),
        2 => source.data.len() as i128,
        _ => return u64::MAX,
    };
    // libtiff passes a negative offset as its two's complement for SEEK_CUR and SEEK_END.
    let offset = if whence == 0 { i128::from(offset) } else { i128::from(offset as i64) };
    match u64::try_from(base + offset) {
        Ok(at) => {
            source.at = at;
            at
        }
        Err(_) => u64::MAX,
    }
}

unsafe extern "C" fn close(_: *mut c_void) -> c_int {
    0
}

unsafe extern "C" fn size(handle: *mut c_void) -> u64 {
    // SAFETY: libtiff passes the handle it was given.
    unsafe { source(handle) }.data.len() as u64
}

/// The bytes are already in memory: libtiff reads strips from them without a copy. It never
/// writes to a read-only file's mapping (its own mappings are `PROT_READ`).
unsafe extern "C" fn map(handle: *mut c_void, base: *mut *mut c_void, length: *mut u64) -> c_int {
    // SAFETY: libtiff passes the handle it was given and two writable out-pointers.
    unsafe {
        let source = source(handle);
        *base = source.data.as_ptr().cast_mut().cast();
        *length = source.data.len() as u64;
    }
    1
}

unsafe extern "C" fn unmap(_: *mut c_void, _: *mut c_void, _: u64) {}

/// Keeps libtiff's error messages for the error this decode returns.
unsafe extern "C" fn on_error(
    _: *mut Tiff,
    handle: *mut c_void,
    module: *const c_char,
    format: *const c_char,
    arguments: VaList,
) -> c_int {
    // SAFETY: the handler's user data is the open's `Source`; the strings and arguments are
    // libtiff's own, valid for this call.
    unsafe {
        let source = source(handle);
        if source.errors.len() < 4 {
            source.errors.push(formatted(module, format, arguments));
        }
    }
    // Handled: libtiff does not call the process-wide handler too.
    1
}

unsafe extern "C" fn on_warning(_: *mut Tiff, _: *mut c_void, _: *const c_char, _: *const c_char, _: VaList) -> c_int {
    1
}

extern "C" {
    fn vsnprintf(buffer: *mut c_char, size: usize, format: *const c_char, arguments: VaList) -> c_int;
}

/// "module: message", formatted by the C library as libtiff's own handler would.
///
/// # Safety
/// `module` is null or a C string; `format` and `arguments` are a handler's.
unsafe fn formatted(module: *const c_char, format: *const c_char, arguments: VaList) -> String {
    let mut buffer = [0 as c_char; 512];
    let message = if format.is_null() || vsnprintf(buffer.as_mut_ptr(), buffer.len(), format, arguments) < 0 {
        String::from("unknown libtiff error")
    } else {
        CStr::from_ptr(buffer.as_ptr()).to_string_lossy().into_owned()
    };
    match module {
        module if module.is_null() => message,
        module => format!("{}: {message}", CStr::from_ptr(module).to_string_lossy()),
    }
}

/// Closes the TIFF on every path out.
struct Open<'a> {
    api: &'a Api,
    tiff: *mut Tiff,
}

impl Drop for Open<'_> {
    fn drop(&mut self) {
        // SAFETY: `tiff` was returned by TIFFClientOpenExt and is closed once.
        unsafe { (self.api.close)(self.tiff) }
    }
}

/// The tags that choose how the pixels are read.
#[derive(Debug)]
struct Layout {
    width: u32,
    height: u32,
    samples: u16,
    bits: u16,
    sample_format: u16,
    photometric: u16,
    /// The first extra sample is alpha, associated or not (libtiff's RGBA ignores the others).
    alpha: bool,
    orientation: Orientation,
}

/// Decodes a TIFF that the `image` crate refused (`refused` says why) through libtiff: reads
/// the file whole, checks the first page's size from its directory, reserves the peak from
/// `budget`, then reads the pixels.
pub(super) fn decode(
    mut reader: impl Read,
    length: u64,
    refused: &DecodeError,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<Stored, DecodeError> {
    let api = api().map_err(|why| DecodeError::new(ErrorClass::Unsupported, format!("{}; {why}", refused.message)))?;
    let file_memory = budget.reserve(length);
    let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    reader.read_to_end(&mut data).map_err(|error| read_failure(NAME, &error))?;
    let mut source = Source { data: &data, at: 0, errors: Vec::new() };
    let handle: *mut Source = &mut source;
    // SAFETY: `source` outlives the open TIFF (`Open` closes it before `source` goes), and is
    // reached only through `handle` while libtiff holds it; the callbacks match tiffio.h.
    let stored = unsafe {
        let open_options = (api.options_alloc)();
        if open_options.is_null() {
            return Err(DecodeError::new(ErrorClass::Io, format!("{NAME}: libtiff could not allocate its options")));
        }
        let max_alloc = allocation_limits(options).max_alloc.unwrap_or(u64::MAX);
        (api.options_max_alloc)(open_options, isize::try_from(max_alloc).unwrap_or(isize::MAX));
        (api.options_error_handler)(open_options, Some(on_error), handle.cast());
        (api.options_warning_handler)(open_options, Some(on_warning), handle.cast());
        let tiff = (api.client_open)(
            c"TIFF".as_ptr(),
            c"r".as_ptr(),
            handle.cast(),
            read,
            write,
            seek,
            close,
            size,
            map,
            unmap,
            open_options,
        );
        (api.options_free)(open_options);
        if tiff.is_null() {
            return Err(failure(&(*handle).errors, "libtiff could not open it"));
        }
        let open = Open { api, tiff };
        let layout = layout(&open);
        let pixels = check_pixels(NAME, layout.width, layout.height, options)?;
        read_pixels(&open, &layout, pixels, budget)
            .map(|(image, memory)| Stored { image, orientation: layout.orientation, memory, exif: None })
            .map_err(|why| match declared_end(&open) > length {
                // libtiff reads a strip or tile that ends past the file as a silent failure.
                true => DecodeError::new(ErrorClass::Truncated, format!("{NAME}: the file ends early ({why})")),
                false => failure(&(*handle).errors, &why),
            })
    };
    drop(data);
    drop(file_memory);
    stored
}

/// The first page's tags, with libtiff's defaults for those the file leaves out.
///
/// # Safety
/// `open` holds an open TIFF.
unsafe fn layout(open: &Open) -> Layout {
    let (api, tiff) = (open.api, open.tiff);
    let (mut width, mut height) = (0u32, 0u32);
    let (mut samples, mut bits, mut sample_format, mut photometric, mut orientation) = (1u16, 1u16, 1u16, 0u16, 1u16);
    let (mut extra_samples, mut extra_types) = (0u16, ptr::null::<u16>());
    (api.get_field_defaulted)(tiff, TAG_IMAGE_WIDTH, &mut width as *mut u32);
    (api.get_field_defaulted)(tiff, TAG_IMAGE_LENGTH, &mut height as *mut u32);
    (api.get_field_defaulted)(tiff, TAG_SAMPLES_PER_PIXEL, &mut samples as *mut u16);
    (api.get_field_defaulted)(tiff, TAG_BITS_PER_SAMPLE, &mut bits as *mut u16);
    (api.get_field_defaulted)(tiff, TAG_SAMPLE_FORMAT, &mut sample_format as *mut u16);
    (api.get_field_defaulted)(tiff, TAG_PHOTOMETRIC, &mut photometric as *mut u16);
    (api.get_field_defaulted)(tiff, TAG_ORIENTATION, &mut orientation as *mut u16);
    (api.get_field_defaulted)(tiff, TAG_EXTRA_SAMPLES, &mut extra_samples as *mut u16, &mut extra_types as *mut _);
    Layout {
        width,
        height,
        samples,
        bits,
        sample_format,
        photometric,
        // SAFETY: libtiff's array holds `extra_samples` types.
        alpha: extra_samples > 0 && !extra_types.is_null() && matches!(*extra_types, 1 | 2),
        orientation: u8::try_from(orientation)
            .ok()
            .and_then(Orientation::from_exif)
            .unwrap_or(Orientation::NoTransforms),
    }
}

/// Where the last strip or tile ends, as the directory says.
///
/// # Safety
/// `open` holds an open TIFF.
unsafe fn declared_end(open: &Open) -> u64 {
    let (api, tiff) = (open.api, open.tiff);
    let count = if (api.is_tiled)(tiff) != 0 { (api.tiles)(tiff) } else { (api.strips)(tiff) };
    // libtiff answers 0 for an index past its arrays.
    (0..count)
        .map(|strile| (api.strile_offset)(tiff, strile).saturating_add((api.strile_length)(tiff, strile)))
        .max()
        .unwrap_or(0)
}

/// The pixels, and the reservation of their peak: libtiff's RGBA raster, or, for the gray
/// samples that libtiff's RGBA interface refuses, the samples mapped to 8 bits.
///
/// # Safety
/// `open` holds an open TIFF whose `layout` this is.
unsafe fn read_pixels(
    open: &Open,
    layout: &Layout,
    pixels: u64,
    budget: &MemoryBudget,
) -> Result<(DynamicImage, super::budget::Reservation), String> {
    let (api, tiff) = (open.api, open.tiff);
    let (width, height) = (layout.width, layout.height);
    // A strip or tile buffer of native samples (libtiff reads a single-strip image whole).
    let native = pixels * u64::from(layout.samples.max(1)) * u64::from(layout.bits.div_ceil(8).max(1));
    if let Some(to_8_bits) = gray_samples(layout) {
        let memory = budget.reserve(native + 3 * pixels + orientation_bytes(layout.orientation, pixels, 3));
        let gray = read_gray(open, layout, to_8_bits)?;
        let image = GrayImage::from_raw(width, height, gray).ok_or("libtiff returned too few pixels")?;
        return Ok((DynamicImage::ImageLuma8(image), memory));
    }
    let mut why = [0 as c_char; 1024];
    if (api.rgba_ok)(tiff, why.as_mut_ptr()) == 0 {
        return Err(CStr::from_ptr(why.as_ptr()).to_string_lossy().into_owned());
    }
    let alpha = layout.alpha;
    let channels = if alpha { 4 } else { 3 };
    // The raster, the RGB(A) copy, and (with alpha) its composite over the background.
    let later = if alpha { 3 * pixels } else { 0 };
    let memory = budget.reserve(
        native + 4 * pixels + channels * pixels + later + orientation_bytes(layout.orientation, pixels, channels),
    );
    let count = usize::try_from(pixels).map_err(|_| "too many pixels")?;
    let mut raster = vec![0u32; count];
    // The file's own orientation asked for: the raster holds the rows as stored, and the
    // caller turns them upright, as it does the `image` crate's TIFFs.
    let stored_order = c_int::from(layout.orientation.to_exif());
    if (api.read_rgba)(tiff, width, height, raster.as_mut_ptr(), stored_order, 1) == 0 {
        return Err(String::from("libtiff could not read the pixels"));
    }
    // libtiff premultiplies colour with unassociated alpha; gray with alpha is left as stored.
    let gray = matches!(layout.photometric, PHOTOMETRIC_MINISWHITE | PHOTOMETRIC_MINISBLACK);
    let mut bytes = Vec::with_capacity(count * channels as usize);
    for abgr in raster {
        let [r, g, b, a] = abgr.to_le_bytes();
        if !alpha {
            bytes.extend_from_slice(&[r, g, b]);
        } else if gray || a == 0 || a == 255 {
            bytes.extend_from_slice(&[r, g, b, a]);
        } else {
            let straight = |c: u8| ((u32::from(c) * 255 + u32::from(a) / 2) / u32::from(a)).min(255) as u8;
            bytes.extend_from_slice(&[straight(r), straight(g), straight(b), a]);
        }
    }
    let image = if alpha {
        RgbaImage::from_raw(width, height, bytes).map(DynamicImage::ImageRgba8)
    } else {
        RgbImage::from_raw(width, height, bytes).map(DynamicImage::ImageRgb8)
    };
    Ok((image.ok_or("libtiff returned too few pixels")?, memory))
}

/// One gray sample to 8 bits, as Pillow's modes `F` and `I` convert to `RGB`.
type ToEightBits = fn(&[u8]) -> u8;

/// 32-bit float and 16- or 32-bit integer gray, which libtiff's RGBA interface does not read
/// (or reads as unsigned): how each sample (native byte order, libtiff swaps) becomes 8 bits.
fn gray_samples(layout: &Layout) -> Option<ToEightBits> {
    if layout.samples != 1 || !matches!(layout.photometric, PHOTOMETRIC_MINISWHITE | PHOTOMETRIC_MINISBLACK) {
        return None;
    }
    match (layout.sample_format, layout.bits) {
        // Pillow ignores MinIsWhite for float samples, and truncates towards zero.
        (SAMPLE_FORMAT_IEEEFP, 32) => Some(|s| {
            let value = f32::from_ne_bytes([s[0], s[1], s[2], s[3]]);
            if value >= 255.0 {
                255
            } else if value > 0.0 {
                value as u8
            } else {
                0
            }
        }),
        _ if layout.photometric != PHOTOMETRIC_MINISBLACK => None,
        (SAMPLE_FORMAT_INT, 32) => Some(|s| clamp(i64::from(i32::from_ne_bytes([s[0], s[1], s[2], s[3]])))),
        (SAMPLE_FORMAT_UINT, 32) => Some(|s| clamp(i64::from(u32::from_ne_bytes([s[0], s[1], s[2], s[3]])))),
        (SAMPLE_FORMAT_INT, 16) => Some(|s| clamp(i64::from(i16::from_ne_bytes([s[0], s[1]])))),
        _ => None,
    }
}

fn clamp(value: i64) -> u8 {
    value.clamp(0, 255) as u8
}

/// The gray samples of the page, by scanline or by tile, mapped to 8 bits.
///
/// # Safety
/// `open` holds an open TIFF whose `layout` this is, with one sample per pixel.
unsafe fn read_gray(open: &Open, layout: &Layout, to_8_bits: ToEightBits) -> Result<Vec<u8>, String> {
    let (api, tiff) = (open.api, open.tiff);
    let bytes_per_sample = usize::from(layout.bits / 8);
    let (width, height) = (layout.width as usize, layout.height as usize);
    let mut gray = vec![0u8; width * height];
    if (api.is_tiled)(tiff) == 0 {
        let row_size = usize::try_from((api.scanline_size)(tiff)).map_err(|_| "scanline too long")?;
        if row_size < width * bytes_per_sample {
            return Err(String::from("scanlines shorter than the image is wide"));
        }
        let mut row = vec![0u8; row_size];
        for (y, out) in gray.chunks_exact_mut(width).enumerate() {
            if (api.read_scanline)(tiff, row.as_mut_ptr().cast(), y as u32, 0) < 0 {
                return Err(format!("libtiff could not read row {y}"));
            }
            for (pixel, sample) in out.iter_mut().zip(row.chunks_exact(bytes_per_sample)) {
                *pixel = to_8_bits(sample);
            }
        }
        return Ok(gray);
    }
    let (mut tile_w, mut tile_h) = (0u32, 0u32);
    (api.get_field_defaulted)(tiff, TAG_TILE_WIDTH, &mut tile_w as *mut u32);
    (api.get_field_defaulted)(tiff, TAG_TILE_LENGTH, &mut tile_h as *mut u32);
    let (tile_w, tile_h) = (tile_w as usize, tile_h as usize);
    let tile_size = usize::try_from((api.tile_size)(tiff)).map_err(|_| "tile too large")?;
    if tile_w == 0 || tile_h == 0 || tile_size < tile_w * tile_h * bytes_per_sample {
        return Err(String::from("tiles smaller than their declared size"));
    }
    let mut tile = vec![0u8; tile_size];
    for top in (0..height).step_by(tile_h) {
        for left in (0..width).step_by(tile_w) {
            if (api.read_tile)(tiff, tile.as_mut_ptr().cast(), left as u32, top as u32, 0, 0) < 0 {
                return Err(format!("libtiff could not read the tile at {left},{top}"));
            }
            let rows = tile.chunks_exact(tile_w * bytes_per_sample).take(tile_h.min(height - top));
            for (y, row) in rows.enumerate() {
                let out = &mut gray[(top + y) * width + left..][..tile_w.min(width - left)];
                for (pixel, sample) in out.iter_mut().zip(row.chunks_exact(bytes_per_sample)) {
                    *pixel = to_8_bits(sample);
                }
            }
        }
    }
    Ok(gray)
}

/// The error class of a failed open or read, from the first error libtiff reported (or, when
/// it reported none, from `what` failed).
fn failure(errors: &[String], what: &str) -> DecodeError {
    let said = if errors.is_empty() { what.to_string() } else { format!("{what}: {}", errors.join("; ")) };
    let lower = errors.first().map_or(what, String::as_str).to_ascii_lowercase();
    let class = if lower.contains("byte limit") || lower.contains("out of memory") {
        ErrorClass::TooLarge
    } else if looks_truncated(&lower) || lower.contains("read error") || lower.contains("cannot read") {
        ErrorClass::Truncated
    } else if lower.contains("sorry") || lower.contains("not supported") || lower.contains("can not handle") {
        ErrorClass::Unsupported
    } else {
        ErrorClass::Corrupt
    };
    DecodeError::new(class, format!("{NAME}: {said}"))
}
