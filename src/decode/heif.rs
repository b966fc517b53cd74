//! HEIC/HEIF and AVIF through libheif, the library pillow-heif and Immich use. Debian 12's
//! libheif1 (1.15) links libde265 for HEVC and dav1d for AV1; the `libheif-sys` crate needs
//! 1.17 or a vendored cmake build, so imbed loads the system library at run time through the
//! few C functions it needs (heif.h of 1.15). Without libheif these files fail as
//! `unsupported`, and every other format still builds and decodes.
//!
//! libheif applies the `irot`/`imir`/`clap` transforms of the primary image, so the EXIF
//! orientation (which HEIF readers must ignore) is never applied again. 10- and 12-bit
//! images come out at 8 bits through libheif's own conversion, as pillow-heif asks for.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::io::Read;
use std::ptr;
use std::sync::OnceLock;

use image::{DynamicImage, RgbImage, RgbaImage};

use super::{check_pixels, errors::read_failure, DecodeError, DecodeOptions, DecodedImage, MemoryBudget, Pixels};
use super::{PhotoFacts, Region};
use crate::item::ErrorClass;

#[repr(C)]
struct HeifError {
    code: c_int,
    subcode: c_int,
    message: *const c_char,
}

/// The first fields of `struct heif_decoding_options`, as in every version since 2.
#[repr(C)]
struct DecodingOptionsHead {
    version: u8,
    ignore_transformations: u8,
    start_progress: *const c_void,
    on_progress: *const c_void,
    end_progress: *const c_void,
    progress_user_data: *mut c_void,
    convert_hdr_to_8bit: u8,
}

type Context = c_void;
type Handle = c_void;
type Image = c_void;

const COLORSPACE_RGB: c_int = 1;
const CHROMA_INTERLEAVED_RGB: c_int = 10;
const CHROMA_INTERLEAVED_RGBA: c_int = 11;
const CHANNEL_INTERLEAVED: c_int = 10;
const ERROR_UNSUPPORTED_FILETYPE: c_int = 3;
const ERROR_UNSUPPORTED_FEATURE: c_int = 4;
const ERROR_MEMORY: c_int = 6;
const SUBERROR_END_OF_DATA: c_int = 100;
const SUBERROR_SECURITY_LIMIT: c_int = 1000;

/// The libheif functions imbed calls, with the signatures of heif.h 1.15.
struct Api {
    context_alloc: unsafe extern "C" fn() -> *mut Context,
    context_free: unsafe extern "C" fn(*mut Context),
    set_size_limit: unsafe extern "C" fn(*mut Context, c_int),
    read_from_memory: unsafe extern "C" fn(*mut Context, *const c_void, usize, *const c_void) -> HeifError,
    primary_handle: unsafe extern "C" fn(*mut Context, *mut *mut Handle) -> HeifError,
    handle_release: unsafe extern "C" fn(*const Handle),
    handle_width: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_height: unsafe extern "C" fn(*const Handle) -> c_int,
    ispe_width: unsafe extern "C" fn(*const Handle) -> c_int,
    ispe_height: unsafe extern "C" fn(*const Handle) -> c_int,
    handle_has_alpha: unsafe extern "C" fn(*const Handle) -> c_int,
    metadata_ids: unsafe extern "C" fn(*const Handle, *const c_char, *mut u32, c_int) -> c_int,
    metadata_size: unsafe extern "C" fn(*const Handle, u32) -> usize,
    metadata: unsafe extern "C" fn(*const Handle, u32, *mut c_void) -> HeifError,
    options_alloc: unsafe extern "C" fn() -> *mut DecodingOptionsHead,
    options_free: unsafe extern "C" fn(*mut DecodingOptionsHead),
    decode: unsafe extern "C" fn(*const Handle, *mut *mut Image, c_int, c_int, *const DecodingOptionsHead) -> HeifError,
    image_release: unsafe extern "C" fn(*const Image),
    image_width: unsafe extern "C" fn(*const Image, c_int) -> c_int,
    image_height: unsafe extern "C" fn(*const Image, c_int) -> c_int,
    plane: unsafe extern "C" fn(*const Image, c_int, *mut c_int) -> *const u8,
    _library: libloading::Library,
}

fn api() -> Result<&'static Api, DecodeError> {
    static API: OnceLock<Result<Api, String>> = OnceLock::new();
    API.get_or_init(load).as_ref().map_err(|why| DecodeError::new(ErrorClass::Unsupported, why.clone()))
}

fn load() -> Result<Api, String> {
    let missing = |error: libloading::Error| {
        format!("libheif is not installed ({error}); scripts/setup installs Debian's libheif1")
    };
    // SAFETY: libheif's initialisers are sound to run; each symbol below is declared with the
    // C signature heif.h 1.15 gives it, and the library is kept loaded inside the Api.
    unsafe {
        let library = libloading::Library::new("libheif.so.1").map_err(missing)?;
        macro_rules! get {
            ($name:literal) => {
                *library.get(concat!($name, "\0").as_bytes()).map_err(missing)?
            };
        }
        Ok(Api {
            context_alloc: get!("heif_context_alloc"),
            context_free: get!("heif_context_free"),
            set_size_limit: get!("heif_context_set_maximum_image_size_limit"),
            read_from_memory: get!("heif_context_read_from_memory_without_copy"),
            primary_handle: get!("heif_context_get_primary_image_handle"),
            handle_release: get!("heif_image_handle_release"),
            handle_width: get!("heif_image_handle_get_width"),
            handle_height: get!("heif_image_handle_get_height"),
            ispe_width: get!("heif_image_handle_get_ispe_width"),
            ispe_height: get!("heif_image_handle_get_ispe_height"),
            handle_has_alpha: get!("heif_image_handle_has_alpha_channel"),
            metadata_ids: get!("heif_image_handle_get_list_of_metadata_block_IDs"),
            metadata_size: get!("heif_image_handle_get_metadata_size"),
            metadata: get!("heif_image_handle_get_metadata"),
            options_alloc: get!("heif_decoding_options_alloc"),
            options_free: get!("heif_decoding_options_free"),
            decode: get!("heif_decode_image"),
            image_release: get!("heif_image_release"),
            image_width: get!("heif_image_get_width"),
            image_height: get!("heif_image_get_height"),
            plane: get!("heif_image_get_plane_readonly"),
            _library: library,
        })
    }
}

/// Frees what libheif allocated, on every path out.
struct Owned<'a> {
    api: &'a Api,
    context: *mut Context,
    handle: *mut Handle,
    image: *mut Image,
}

impl Drop for Owned<'_> {
    fn drop(&mut self) {
        // SAFETY: each pointer is null or was returned by libheif and is released once, image
        // and handle before the context that owns them.
        unsafe {
            if !self.image.is_null() {
                (self.api.image_release)(self.image);
            }
            if !self.handle.is_null() {
                (self.api.handle_release)(self.handle);
            }
            if !self.context.is_null() {
                (self.api.context_free)(self.context);
            }
        }
    }
}

/// Reads the file whole (libheif reads from memory), checks the primary image's size from
/// its header boxes, reserves the peak from `budget`, then decodes to upright RGB(A) 8-bit.
pub(super) fn decode(
    mut reader: impl Read,
    length: u64,
    name: &'static str,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<DecodedImage, DecodeError> {
    let api = api().map_err(|error| DecodeError::new(error.class, format!("{name}: {}", error.message)))?;
    let file_memory = budget.reserve(length);
    let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    reader.read_to_end(&mut data).map_err(|error| read_failure(name, &error))?;
    let cut_short = declared_length(&data) > data.len() as u64;
    let failure = |error: HeifError| heif_failure(name, &error, cut_short);
    // SAFETY: libheif's calls get pointers it returned, or `data`, which outlives the context
    // (read without copy); out-pointers are valid locals; `Owned` frees them once.
    unsafe {
        let mut owned = Owned { api, context: (api.context_alloc)(), handle: ptr::null_mut(), image: ptr::null_mut() };
        if owned.context.is_null() {
            return Err(DecodeError::new(ErrorClass::Io, format!("{name}: libheif could not allocate a context")));
        }
        // libheif's own per-side limit (32768 by default) is left to --max-pixels instead.
        let side_limit = c_int::try_from(options.max_pixels.saturating_add(1)).unwrap_or(c_int::MAX);
        (api.set_size_limit)(owned.context, side_limit);
        ok((api.read_from_memory)(owned.context, data.as_ptr().cast(), data.len(), ptr::null())).map_err(failure)?;
        ok((api.primary_handle)(owned.context, &mut owned.handle)).map_err(failure)?;
        let (width, height) = (size((api.handle_width)(owned.handle)), size((api.handle_height)(owned.handle)));
        let pixels = check_pixels(name, width, height, options)?;
        // The coded size (`ispe`, a grid's whole canvas) before cropping: what libheif allocates.
        let (coded_w, coded_h) = (size((api.ispe_width)(owned.handle)), size((api.ispe_height)(owned.handle)));
        let pixels = pixels.max(check_pixels(name, coded_w.max(1), coded_h.max(1), options)?);
        let alpha = (api.handle_has_alpha)(owned.handle) != 0;
        let channels: u64 = if alpha { 4 } else { 3 };
        // libheif's YCbCr planes (16-bit for deep images, alpha too), its interleaved output,
        // and the copy of it made here.
        let memory = budget.reserve(pixels * (2 * 4 + channels * 2));
        let exif = exif_of(api, owned.handle);
        let decoding = (api.options_alloc)();
        if !decoding.is_null() && (*decoding).version >= 2 {
            (*decoding).convert_hdr_to_8bit = 1;
        }
        let chroma = if alpha { CHROMA_INTERLEAVED_RGBA } else { CHROMA_INTERLEAVED_RGB };
        let decoded = (api.decode)(owned.handle, &mut owned.image, COLORSPACE_RGB, chroma, decoding);
        if !decoding.is_null() {
            (api.options_free)(decoding);
        }
        ok(decoded).map_err(failure)?;
        let pixels = copy_pixels(api, owned.image, alpha)
            .ok_or_else(|| DecodeError::new(ErrorClass::Corrupt, format!("{name}: libheif returned no pixels")))?;
        let (width, height) = pixels.dimensions();
        drop(owned);
        drop(data);
        drop(file_memory);
        Ok(DecodedImage {
            width,
            height,
            region: Region::whole(width, height),
            pixels,
            format: if name == "AVIF" { "avif" } else { "heic" },
            size_bytes: length,
            modified: None,
            photo: exif.as_deref().map(PhotoFacts::read).unwrap_or_default(),
            _memory: memory,
        })
    }
}

/// The interleaved 8-bit plane, row by row (libheif pads rows to its stride).
///
/// # Safety
/// `image` is a decoded libheif image of interleaved RGB (or RGBA with `alpha`).
unsafe fn copy_pixels(api: &Api, image: *const Image, alpha: bool) -> Option<Pixels> {
    let width = usize::try_from((api.image_width)(image, CHANNEL_INTERLEAVED)).ok()?;
    let height = usize::try_from((api.image_height)(image, CHANNEL_INTERLEAVED)).ok()?;
    let mut stride: c_int = 0;
    let plane = (api.plane)(image, CHANNEL_INTERLEAVED, &mut stride);
    let stride = usize::try_from(stride).ok()?;
    let row = width * if alpha { 4 } else { 3 };
    if plane.is_null() || stride < row || width == 0 || height == 0 {
        return None;
    }
    // SAFETY: libheif's plane holds `height` rows of `stride` bytes.
    let rows = std::slice::from_raw_parts(plane, stride * (height - 1) + row);
    let mut bytes = Vec::with_capacity(row * height);
    for y in 0..height {
        bytes.extend_from_slice(&rows[y * stride..y * stride + row]);
    }
    let (w, h) = (u32::try_from(width).ok()?, u32::try_from(height).ok()?);
    let image = if alpha {
        DynamicImage::ImageRgba8(RgbaImage::from_raw(w, h, bytes)?)
    } else {
        DynamicImage::ImageRgb8(RgbImage::from_raw(w, h, bytes)?)
    };
    Some(Pixels::of(image))
}

/// The primary image's EXIF block as TIFF bytes: libheif's block starts with the 4-byte
/// offset of the TIFF header.
///
/// # Safety
/// `handle` is a live libheif image handle.
unsafe fn exif_of(api: &Api, handle: *const Handle) -> Option<Vec<u8>> {
    let mut id = 0u32;
    let filter = c"Exif";
    if (api.metadata_ids)(handle, filter.as_ptr(), &mut id, 1) < 1 {
        return None;
    }
    let size = (api.metadata_size)(handle, id);
    if !(4..=(16 << 20)).contains(&size) {
        return None;
    }
    let mut block = vec![0u8; size];
    ok((api.metadata)(handle, id, block.as_mut_ptr().cast())).ok()?;
    let offset = usize::try_from(u32::from_be_bytes(block[..4].try_into().ok()?)).ok()?;
    let tiff = block.get(4 + offset..)?;
    Some(tiff.strip_prefix(b"Exif\0\0").unwrap_or(tiff).to_vec())
}

fn ok(error: HeifError) -> Result<(), HeifError> {
    if error.code == 0 {
        Ok(())
    } else {
        Err(error)
    }
}

fn size(side: c_int) -> u32 {
    u32::try_from(side).unwrap_or(0)
}

fn heif_failure(name: &str, error: &HeifError, cut_short: bool) -> DecodeError {
    let message = if error.message.is_null() {
        String::from("unknown libheif error")
    } else {
        // SAFETY: libheif's messages are static NUL-terminated strings.
        unsafe { CStr::from_ptr(error.message) }.to_string_lossy().into_owned()
    };
    let class = match (error.code, error.subcode) {
        (_, SUBERROR_SECURITY_LIMIT) | (ERROR_MEMORY, _) => ErrorClass::TooLarge,
        (_, SUBERROR_END_OF_DATA) => ErrorClass::Truncated,
        _ if cut_short => ErrorClass::Truncated,
        (ERROR_UNSUPPORTED_FILETYPE | ERROR_UNSUPPORTED_FEATURE, _) => ErrorClass::Unsupported,
        _ => ErrorClass::Corrupt,
    };
    DecodeError::new(class, format!("{name}: {message}"))
}

/// The end of the last top-level box, as the boxes declare it: past the file's end, the file
/// was cut short.
fn declared_length(data: &[u8]) -> u64 {
    let mut at = 0u64;
    while let Some(head) = usize::try_from(at).ok().and_then(|start| data.get(start..start + 8)) {
        let size = u64::from(u32::from_be_bytes([head[0], head[1], head[2], head[3]]));
        let size = match size {
            0 => return data.len() as u64,
            1 => match usize::try_from(at).ok().and_then(|start| data.get(start + 8..start + 16)) {
                Some(large) => large.try_into().map(u64::from_be_bytes).unwrap_or(0),
                None => return at + 16,
            },
            size => size,
        };
        if size < 8 {
            return data.len() as u64;
        }
        at = at.saturating_add(size);
    }
    at.max(data.len() as u64)
}
