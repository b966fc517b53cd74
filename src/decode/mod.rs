//! Bytes to an upright image: content sniffing, size limits checked on the header before any
//! pixel is allocated, a shared budget of decoded bytes, and EXIF orientation. Images with
//! alpha stay RGBA; compositing is a preprocessing step.
//!
//! Files are streamed, never read whole: the header (size, orientation) comes first, then
//! the memory is reserved, then the pixels are decoded.
//!
//! A large JPEG is decoded at a reduced DCT scale (1/2, 1/4 or 1/8) when the caller names the
//! smallest image it can use (a [`Target`]); the image then comes with the fractional
//! [`Region`] of its pixels that shows the whole picture.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek};
use std::path::Path;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageFormat, ImageReader};

use crate::item::ErrorClass;

mod bmp;
mod budget;
mod decoded;
mod errors;
mod heif;
mod jpeg;
mod phash;
mod photo;
mod raw;
mod sniff;
mod tiff;
mod webp;

pub use budget::MemoryBudget;
use decoded::REDUCING_GAP;
pub use decoded::{
    DecodeError, DecodeOptions, DecodedImage, Pixels, Region, Target, DEFAULT_MAX_FILE_SIZE, DEFAULT_MAX_PIXELS,
};
use errors::{classify, jpeg_failure, read_failure};
pub use phash::{hash_distance, perceptual_hash};
pub use photo::PhotoFacts;
use sniff::{sniff, Sniffed};

/// Decodes the image file at `path`, a JPEG at the smallest scale that covers `target`
/// (unless `options.full_decode`): refuses what is not a regular file or is over the size
/// limit before opening it, and streams the rest through [`decode_reader`].
pub fn decode_file_for(
    path: &Path,
    target: Target,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<DecodedImage, DecodeError> {
    let io_error =
        |what: &str, error: std::io::Error| DecodeError::new(ErrorClass::from_io(&error), format!("{what}: {error}"));
    let metadata = std::fs::metadata(path).map_err(|error| io_error("cannot read the file", error))?;
    let kind = metadata.file_type();
    if kind.is_dir() {
        return Err(DecodeError::new(ErrorClass::Unsupported, "is a folder, not an image file"));
    }
    // A FIFO or a device named like an image would block or never end.
    if !kind.is_file() {
        return Err(DecodeError::new(ErrorClass::Unsupported, "not a regular file (a FIFO, socket or device)"));
    }
    check_file_size(metadata.len(), options)?;
    let file = File::open(path).map_err(|error| io_error("cannot open the file", error))?;
    let reader = BufReader::with_capacity(64 << 10, file);
    let mut image = decode_reader(reader, metadata.len(), target, options, budget, None)?;
    image.modified = metadata.modified().ok();
    Ok(image)
}

/// Decodes an image held in memory, a JPEG at the smallest scale that covers `target`.
pub fn decode_bytes_for(
    bytes: &[u8],
    target: Target,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<DecodedImage, DecodeError> {
    check_file_size(bytes.len() as u64, options)?;
    decode_reader(std::io::Cursor::new(bytes), bytes.len() as u64, target, options, budget, None)
}

fn check_file_size(size: u64, options: &DecodeOptions) -> Result<(), DecodeError> {
    if size == 0 {
        return Err(DecodeError::new(ErrorClass::Empty, "file is empty"));
    }
    if size > options.max_file_size {
        return Err(DecodeError::new(
            ErrorClass::TooLarge,
            format!("the file is {size} bytes, above the limit of {} (--max-file-size)", options.max_file_size),
        ));
    }
    Ok(())
}

/// Sniffs the format from the first bytes, reads the header, checks the size, reserves the
/// decode's peak memory from `budget`, then decodes (a JPEG at the scale `target` allows),
/// orients and flattens to RGB. `length` is the size of the whole file, which the callers know.
/// `forced` replaces a JPEG's own orientation (a RAW preview's is the RAW's).
fn decode_reader<R: BufRead + Seek>(
    mut reader: R,
    length: u64,
    target: Target,
    options: &DecodeOptions,
    budget: &MemoryBudget,
    forced: Option<Orientation>,
) -> Result<DecodedImage, DecodeError> {
    let Sniffing { format, cut_short } = match sniff_reader(&mut reader, length)? {
        Found::Image(sniffing) => sniffing,
        Found::Heif(name) => return heif::decode(reader, length, name, options, budget),
        Found::Raw(name) => return decode_raw(reader, length, name, target, options, budget),
    };
    let name = sniff::format_name(format);
    if format == ImageFormat::Bmp {
        let head = reader.fill_buf().map_err(|error| read_failure(name, &error))?;
        if let Some(header_size) = bmp::os2_header_size(head) {
            // The file and its rewritten copy.
            let _file_memory = budget.reserve(2 * length);
            let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
            reader.read_to_end(&mut data).map_err(|error| read_failure(name, &error))?;
            let rewritten = bmp::with_info_header(&data, header_size)?;
            drop(data);
            let bytes = std::io::Cursor::new(rewritten.as_slice());
            let mut image = decode_reader(bytes, rewritten.len() as u64, target, options, budget, forced)?;
            image.size_bytes = length;
            return Ok(image);
        }
    }
    let still_webp = if format == ImageFormat::WebP {
        webp::check_chunks(&mut reader, length)?;
        let head = reader.fill_buf().map_err(|error| read_failure(name, &error))?;
        Some(webp::Features::read(head)?).filter(|features| !features.animated)
    } else {
        None
    };
    let (image, (width, height), orientation, region, memory, exif) = if format == ImageFormat::Jpeg {
        let mut header = jpeg::read_header(&mut reader).map_err(|error| jpeg_failure(name, error))?;
        header.orientation = forced.unwrap_or(header.orientation);
        check_pixels(name, header.width, header.height, options)?;
        let eighths = if options.full_decode { 8 } else { jpeg_eighths(&header, target) };
        let (scaled_w, scaled_h) = header.scaled_size(eighths);
        let scaled_pixels = u64::from(scaled_w) * u64::from(scaled_h);
        let memory =
            budget.reserve(header.peak_bytes(eighths) + orientation_bytes(header.orientation, scaled_pixels, 3));
        reader.rewind().map_err(|error| read_failure(name, &error))?;
        let rgb = jpeg::decode(reader, eighths).map_err(|error| jpeg_failure(name, error))?;
        if rgb.dimensions() != (scaled_w, scaled_h) {
            return Err(DecodeError::new(
                ErrorClass::Corrupt,
                format!("{name}: decoded size does not match the header"),
            ));
        }
        let region = Region::of_scaled(header.width, header.height, eighths, header.orientation);
        let image = DynamicImage::ImageRgb8(rgb);
        (image, (header.width, header.height), header.orientation, region, memory, header.exif)
    } else if let Some(features) = still_webp {
        let (width, height) = (features.width, features.height);
        let pixels = check_pixels(name, width, height, options)?;
        let output = if features.has_alpha { 4 + 3 } else { 3 } * pixels;
        // The orientation is read after the pixels (EXIF comes last): room for a quarter turn.
        let turned = orientation_bytes(Orientation::Rotate90, pixels, if features.has_alpha { 4 } else { 3 });
        let memory = budget.reserve(length + features.working_bytes() + output + turned);
        let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
        reader.read_to_end(&mut data).map_err(|error| read_failure(name, &error))?;
        let image = webp::decode(&data, &features)?;
        let exif = webp::exif(&data);
        let orientation = exif.as_deref().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
        let (upright_w, upright_h) = upright(width, height, orientation);
        (image, (width, height), orientation, Region::whole(upright_w, upright_h), memory, exif)
    } else {
        let stored = match decode_stored(&mut reader, format, cut_short, options, budget) {
            // The variants the `image` crate refuses (palette, YCbCr, LZMA...): libtiff.
            Err(refused) if format == ImageFormat::Tiff && refused.class == ErrorClass::Unsupported => {
                reader.rewind().map_err(|error| read_failure(name, &error))?;
                tiff::decode(reader, length, &refused, options, budget)?
            }
            stored => stored?,
        };
        let Stored { image, orientation, memory, exif } = stored;
        let (width, height) = (image.width(), image.height());
        let (upright_w, upright_h) = upright(width, height, orientation);
        (image, (width, height), orientation, Region::whole(upright_w, upright_h), memory, exif)
    };
    let mut image = image;
    image.apply_orientation(orientation);
    let (width, height) = upright(width, height, orientation);
    Ok(DecodedImage {
        width,
        height,
        pixels: Pixels::of(image),
        region,
        format: format.extensions_str().first().copied().unwrap_or("unknown"),
        size_bytes: length,
        modified: None,
        photo: exif.as_deref().map(PhotoFacts::read).unwrap_or_default(),
        _memory: memory,
    })
}

/// An image as its file stores it, before orientation, with the reservation of its peak.
struct Stored {
    image: DynamicImage,
    orientation: Orientation,
    memory: budget::Reservation,
    exif: Option<Vec<u8>>,
}

/// Decodes through the `image` crate, checking the header's size and reserving the peak first.
fn decode_stored<R: BufRead + Seek>(
    reader: R,
    format: ImageFormat,
    cut_short: bool,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<Stored, DecodeError> {
    let name = sniff::format_name(format);
    let failure = |error| classify(name, error, cut_short);
    let mut image_reader = ImageReader::with_format(reader, format);
    image_reader.limits(allocation_limits(options));
    let mut decoder = image_reader.into_decoder().map_err(failure)?;
    let (width, height) = decoder.dimensions();
    let pixels = check_pixels(name, width, height, options)?;
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
    let peak = conversion_bytes(decoder.total_bytes(), decoder.color_type(), pixels);
    let channels = if decoder.color_type().has_alpha() { 4 } else { 3 };
    let memory = budget.reserve(peak + orientation_bytes(orientation, pixels, channels));
    let exif = decoder.exif_metadata().ok().flatten();
    let image = DynamicImage::from_decoder(decoder).map_err(failure)?;
    Ok(Stored { image, orientation, memory, exif })
}

/// Reads a RAW file whole and decodes its largest JPEG preview, with the RAW's orientation.
fn decode_raw(
    mut reader: impl Read,
    length: u64,
    name: &'static str,
    target: Target,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<DecodedImage, DecodeError> {
    let file_memory = budget.reserve(length);
    let mut data = Vec::with_capacity(usize::try_from(length).unwrap_or(0));
    reader.read_to_end(&mut data).map_err(|error| read_failure(name, &error))?;
    let preview = raw::preview(&data, name)?;
    drop(data);
    drop(file_memory);
    let jpeg = std::io::Cursor::new(preview.jpeg.as_slice());
    let decoded = decode_reader(jpeg, preview.jpeg.len() as u64, target, options, budget, preview.orientation);
    let mut image =
        decoded.map_err(|error| DecodeError::new(error.class, format!("{name} preview: {}", error.message)))?;
    image.format = raw::format_of(name);
    image.size_bytes = length;
    if preview.photo != PhotoFacts::default() {
        image.photo = preview.photo;
    }
    Ok(image)
}

/// What the first bytes say: a format of the `image` crate's enum, or HEIF/AVIF or RAW by name.
enum Found {
    Image(Sniffing),
    Heif(&'static str),
    Raw(&'static str),
}

struct Sniffing {
    format: ImageFormat,
    /// The container declares more bytes than the file has: a decode error is a truncation.
    cut_short: bool,
}

/// The format the first bytes name, or why the file is not decoded. It peeks without
/// consuming: seeking back would make the buffered reader read its first block again.
fn sniff_reader(reader: &mut impl BufRead, length: u64) -> Result<Found, DecodeError> {
    let buffered = reader.fill_buf().map_err(|error| read_failure("image", &error))?;
    if let Some(name) = raw::kind(buffered) {
        return Ok(Found::Raw(name));
    }
    let head = &buffered[..buffered.len().min(512)];
    match sniff(head) {
        _ if head.is_empty() => Err(DecodeError::new(ErrorClass::Empty, "file is empty")),
        Sniffed::Image(format) => {
            let cut_short = sniff::declared_length(format, head).is_some_and(|declared| length < declared);
            Ok(Found::Image(Sniffing { format, cut_short }))
        }
        Sniffed::Heif(name) => Ok(Found::Heif(name)),
        Sniffed::Unsupported(name) => {
            Err(DecodeError::new(ErrorClass::Unsupported, format!("{name} images are not supported")))
        }
        Sniffed::Unknown(description) => Err(DecodeError::new(ErrorClass::Unsupported, description)),
    }
}

/// Refuses an image over `max_pixels` (or without pixels) from its header dimensions.
fn check_pixels(name: &str, width: u32, height: u32, options: &DecodeOptions) -> Result<u64, DecodeError> {
    let pixels = u64::from(width) * u64::from(height);
    if pixels == 0 {
        return Err(DecodeError::new(ErrorClass::Corrupt, format!("{name}: the header says {width}x{height} pixels")));
    }
    if pixels > options.max_pixels {
        return Err(DecodeError::new(
            ErrorClass::TooLarge,
            format!(
                "{name}: {width}x{height} is {pixels} pixels, above the limit of {} (--max-pixels)",
                options.max_pixels
            ),
        ));
    }
    Ok(pixels)
}

/// The decoders' own allocation limit: a 16-bit RGBA image of `max_pixels`, plus room for
/// metadata, so that only a lying header (or hostile metadata) can reach it.
fn allocation_limits(options: &DecodeOptions) -> image::Limits {
    let mut limits = image::Limits::default();
    let image_bytes = options.max_pixels.saturating_mul(8).saturating_add(64 << 20);
    limits.max_alloc = Some(image_bytes.max(512 << 20));
    limits
}

/// Peak bytes of decoding into `native` bytes of `color`, then converting to RGB8.
fn conversion_bytes(native: u64, color: ColorType, pixels: u64) -> u64 {
    let converted = match color {
        ColorType::Rgb8 => 0,
        ColorType::Rgba8 => 3,
        // To RGBA8, then composited into RGB8 by the preprocessing.
        color if color.has_alpha() => 4 + 3,
        _ => 3,
    };
    native.saturating_add(converted * pixels)
}

/// A quarter turn writes a rotated copy of the image; flips work in place.
fn orientation_bytes(orientation: Orientation, pixels: u64, channels: u64) -> u64 {
    if turns_a_quarter(orientation) {
        channels * pixels
    } else {
        0
    }
}

pub(super) fn turns_a_quarter(orientation: Orientation) -> bool {
    use Orientation::*;
    match orientation {
        Rotate90 | Rotate270 | Rotate90FlipH | Rotate270FlipH => true,
        NoTransforms | Rotate180 | FlipHorizontal | FlipVertical => false,
    }
}

/// Width and height once `orientation` is applied.
fn upright(width: u32, height: u32, orientation: Orientation) -> (u32, u32) {
    if turns_a_quarter(orientation) {
        (height, width)
    } else {
        (width, height)
    }
}

/// The smallest scale, in eighths, at which the upright JPEG still covers `target` with the
/// [`REDUCING_GAP`]; 8 (full size) when none does.
fn jpeg_eighths(header: &jpeg::Header, target: Target) -> u8 {
    let (width, height) = upright(header.width, header.height, header.orientation);
    // The picture spans side * eighths / 8 pixels of the output: compare in integers.
    let covers = |side: u32, eighths: u8, wanted: u32| {
        wanted > 0 && u64::from(side) * u64::from(eighths) >= 8 * REDUCING_GAP * u64::from(wanted)
    };
    [1, 2, 4]
        .into_iter()
        .find(|&eighths| match target {
            Target::Full => false,
            Target::ShortSide(edge) => covers(width.min(height), eighths, edge),
            Target::Size { width: wanted_w, height: wanted_h } => {
                covers(width, eighths, wanted_w) && covers(height, eighths, wanted_h)
            }
        })
        .unwrap_or(8)
}

#[cfg(test)]
mod tests;
