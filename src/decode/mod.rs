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
use std::io::{BufRead, BufReader, Seek};
use std::path::Path;
use std::time::SystemTime;

use image::metadata::Orientation;
use image::{ColorType, DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

use crate::item::ErrorClass;

mod budget;
mod jpeg;
mod sniff;
mod webp;

pub use budget::{MemoryBudget, Reservation};
use sniff::{sniff, Sniffed};

/// Images above this many pixels fail as `too_large` before their pixels are allocated.
pub const DEFAULT_MAX_PIXELS: u64 = 100_000_000;
/// Files above this many bytes fail as `too_large` without being read.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 512 << 20;

/// What decoding refuses, and whether JPEGs may be decoded at a reduced scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DecodeOptions {
    pub max_pixels: u64,
    pub max_file_size: u64,
    /// Decode every JPEG at full size. Runs recorded before the reduced-scale path existed
    /// decoded at full size, so their checkpoints, which lack the field, go on doing so.
    #[serde(default = "full_size")]
    pub full_decode: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self { max_pixels: DEFAULT_MAX_PIXELS, max_file_size: DEFAULT_MAX_FILE_SIZE, full_decode: false }
    }
}

impl DecodeOptions {
    /// What a checkpoint from before the decode options existed ran with.
    pub fn before_recorded() -> Self {
        Self { full_decode: full_size(), ..Self::default() }
    }
}

fn full_size() -> bool {
    true
}

/// The smallest upright image the caller can use, which lets a JPEG be decoded at a reduced scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// Every pixel.
    Full,
    /// The short side at least this long.
    ShortSide(u32),
    /// At least this wide and this high.
    Size { width: u32, height: u32 },
}

/// How many times the target a reduced JPEG decode keeps on each side, so that the resize
/// after it still reduces by 2x or more, as Pillow's `reducing_gap` does. libjpeg's scaled
/// inverse DCT averages blocks with less care than a bicubic filter over the whole image: on
/// the 239 bench JPEGs and the bench CLIP model, against a full decode, the largest scale
/// keeping the short side >= 224 gave cosine mean 0.998, min 0.954 (15 photos below 0.99, all
/// heavily textured paintings); >= 1.25x 224 gave min 0.984, >= 1.5x min 0.987, and >= 2x
/// mean 0.9998, min 0.997.
const REDUCING_GAP: u64 = 2;

/// Where the whole picture lies in a decoded image's pixels, in fractional pixels: all of
/// them after a full decode. A reduced-scale decode of a side that is not a multiple of the
/// scale has a last column or row that is partly padding, so there the region stops short of it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Region {
    pub left: f64,
    pub top: f64,
    pub width: f64,
    pub height: f64,
}

impl Region {
    pub fn whole(width: u32, height: u32) -> Self {
        Self { left: 0.0, top: 0.0, width: f64::from(width), height: f64::from(height) }
    }

    /// The region of a reduced decode at `eighths`/8 of a `width`x`height` JPEG, once
    /// `orientation` is applied: the padding ends up on whichever sides the transform moves it to.
    fn of_scaled(width: u32, height: u32, eighths: u8, orientation: Orientation) -> Self {
        let exact = |side: u32| f64::from(side) * f64::from(eighths) / 8.0;
        let (exact_w, exact_h) = (exact(width), exact(height));
        let scaled = |side: u32| (u64::from(side) * u64::from(eighths)).div_ceil(8) as f64;
        // Padding past the right column and below the bottom row, before orientation.
        let (pad_x, pad_y) = (scaled(width) - exact_w, scaled(height) - exact_h);
        use Orientation::*;
        let (left, top) = match orientation {
            NoTransforms | Rotate90FlipH => (0.0, 0.0),
            FlipHorizontal => (pad_x, 0.0),
            FlipVertical => (0.0, pad_y),
            Rotate180 => (pad_x, pad_y),
            Rotate90 => (pad_y, 0.0),
            Rotate270 => (0.0, pad_x),
            Rotate270FlipH => (pad_y, pad_x),
        };
        let (width, height) = if turns_a_quarter(orientation) { (exact_h, exact_w) } else { (exact_w, exact_h) };
        Self { left, top, width, height }
    }
}

/// Decoded pixels: RGB, or RGBA for an image with alpha.
#[derive(Debug, Clone, PartialEq)]
pub enum Pixels {
    Rgb(RgbImage),
    Rgba(RgbaImage),
}

impl Pixels {
    fn of(image: DynamicImage) -> Self {
        if image.color().has_alpha() {
            Self::Rgba(image.into_rgba8())
        } else {
            Self::Rgb(image.into_rgb8())
        }
    }

    pub fn dimensions(&self) -> (u32, u32) {
        match self {
            Self::Rgb(rgb) => rgb.dimensions(),
            Self::Rgba(rgba) => rgba.dimensions(),
        }
    }
}

/// A decoded image and the facts about its file that go into the payload.
#[derive(Debug)]
pub struct DecodedImage {
    /// Upright pixels; smaller than `width`x`height` after a reduced-scale JPEG decode.
    pub pixels: Pixels,
    /// The part of `pixels` that shows the whole picture.
    pub region: Region,
    /// Dimensions of the full-size picture after EXIF orientation.
    pub width: u32,
    pub height: u32,
    pub format: &'static str,
    pub size_bytes: u64,
    pub modified: Option<SystemTime>,
    /// Held against the decode budget until the image is dropped.
    _memory: Reservation,
}

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct DecodeError {
    pub class: ErrorClass,
    pub message: String,
}

impl DecodedImage {
    /// A whole, upright image held outside any budget, for tests of the later stages.
    #[cfg(test)]
    pub fn of_pixels(pixels: Pixels) -> Self {
        let (width, height) = pixels.dimensions();
        let region = Region::whole(width, height);
        let memory = MemoryBudget::unlimited().reserve(0);
        Self { pixels, region, width, height, format: "png", size_bytes: 0, modified: None, _memory: memory }
    }
}

impl DecodeError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into() }
    }
}

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
    let mut image = decode_reader(reader, metadata.len(), target, options, budget)?;
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
    decode_reader(std::io::Cursor::new(bytes), bytes.len() as u64, target, options, budget)
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
fn decode_reader<R: BufRead + Seek>(
    mut reader: R,
    length: u64,
    target: Target,
    options: &DecodeOptions,
    budget: &MemoryBudget,
) -> Result<DecodedImage, DecodeError> {
    let Sniffing { format, cut_short } = sniff_reader(&mut reader, length)?;
    let name = sniff::format_name(format);
    let still_webp = if format == ImageFormat::WebP {
        webp::check_chunks(&mut reader, length)?;
        let head = reader.fill_buf().map_err(|error| read_failure(name, &error))?;
        Some(webp::Features::read(head)?).filter(|features| !features.animated)
    } else {
        None
    };
    let failure = |error| classify(name, error, cut_short);
    let (image, (width, height), orientation, region, memory) = if format == ImageFormat::Jpeg {
        let header = jpeg::read_header(&mut reader).map_err(|error| jpeg_failure(name, error))?;
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
        (DynamicImage::ImageRgb8(rgb), (header.width, header.height), header.orientation, region, memory)
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
        let orientation = webp::orientation(&data);
        let (upright_w, upright_h) = upright(width, height, orientation);
        (image, (width, height), orientation, Region::whole(upright_w, upright_h), memory)
    } else {
        let mut image_reader = ImageReader::with_format(reader, format);
        image_reader.limits(allocation_limits(options));
        let mut decoder = image_reader.into_decoder().map_err(failure)?;
        let (width, height) = decoder.dimensions();
        let pixels = check_pixels(name, width, height, options)?;
        let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
        let peak = conversion_bytes(decoder.total_bytes(), decoder.color_type(), pixels);
        let channels = if decoder.color_type().has_alpha() { 4 } else { 3 };
        let memory = budget.reserve(peak + orientation_bytes(orientation, pixels, channels));
        let image = DynamicImage::from_decoder(decoder).map_err(failure)?;
        let (upright_w, upright_h) = upright(width, height, orientation);
        (image, (width, height), orientation, Region::whole(upright_w, upright_h), memory)
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
        _memory: memory,
    })
}

/// What the first bytes say.
struct Sniffing {
    format: ImageFormat,
    /// The container declares more bytes than the file has: a decode error is a truncation.
    cut_short: bool,
}

/// The format the first bytes name, or why the file is not decoded. It peeks without
/// consuming: seeking back would make the buffered reader read its first block again.
fn sniff_reader(reader: &mut impl BufRead, length: u64) -> Result<Sniffing, DecodeError> {
    let buffered = reader.fill_buf().map_err(|error| read_failure("image", &error))?;
    let head = &buffered[..buffered.len().min(512)];
    match sniff(head) {
        _ if head.is_empty() => Err(DecodeError::new(ErrorClass::Empty, "file is empty")),
        Sniffed::Image(format) => {
            let cut_short = sniff::declared_length(format, head).is_some_and(|declared| length < declared);
            Ok(Sniffing { format, cut_short })
        }
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

fn turns_a_quarter(orientation: Orientation) -> bool {
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

fn jpeg_failure(name: &str, error: jpeg::JpegError) -> DecodeError {
    // Skipping a segment that runs past the end of the file is a read error to libjpeg.
    if error.message == "Input file read error" {
        return DecodeError::new(ErrorClass::Truncated, format!("{name}: the file ends inside a segment"));
    }
    let class =
        if error.truncated || looks_truncated(&error.message) { ErrorClass::Truncated } else { ErrorClass::Corrupt };
    DecodeError::new(class, format!("{name}: {}", error.message))
}

fn read_failure(name: &str, error: &std::io::Error) -> DecodeError {
    DecodeError::new(ErrorClass::from_io(error), format!("{name}: cannot read the file: {error}"))
}

fn classify(name: &str, error: ImageError, cut_short: bool) -> DecodeError {
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
fn looks_truncated(message: &str) -> bool {
    let message = message.to_ascii_lowercase();
    // A word, so that "TileOffsets" is not an EOF.
    message.split(|c: char| !c.is_ascii_alphanumeric()).any(|word| word == "eof")
        || ["end of file", "truncated", "unexpected end", "not enough data", "premature end", "failed to fill"]
            .iter()
            .any(|m| message.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_is_told_by_words() {
        assert!(looks_truncated("Unexpected EOF") && looks_truncated("failed to fill whole buffer"));
        assert!(!looks_truncated("either (StripByteCounts and StripOffsets) or (TileByteCounts and TileOffsets)"));
    }

    #[test]
    fn refuses_files_and_headers_over_the_limits_before_decoding() {
        let options = DecodeOptions { max_pixels: 100, max_file_size: 1 << 20, ..DecodeOptions::default() };
        let budget = MemoryBudget::unlimited();
        let mut png = Vec::new();
        image::RgbImage::new(11, 10)
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode a PNG");
        let error = decode_bytes_for(&png, Target::Full, &options, &budget).unwrap_err();
        assert_eq!(error.class, ErrorClass::TooLarge);
        assert!(error.message.contains("11x10 is 110 pixels"), "{}", error.message);
        let small = DecodeOptions { max_file_size: 10, ..options };
        assert_eq!(decode_bytes_for(&png, Target::Full, &small, &budget).unwrap_err().class, ErrorClass::TooLarge);
        assert_eq!(decode_bytes_for(b"", Target::Full, &options, &budget).unwrap_err().class, ErrorClass::Empty);
    }

    /// A baseline JPEG of a smooth pattern.
    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let image = RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 256) as u8, (y % 256) as u8, 128]));
        let mut bytes = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut bytes), ImageFormat::Jpeg).expect("encode a JPEG");
        bytes
    }

    #[test]
    fn a_large_jpeg_is_decoded_at_the_smallest_scale_that_keeps_twice_the_target() {
        let bytes = jpeg(1001, 701);
        let decode = |target, options: &DecodeOptions, budget: &MemoryBudget| {
            decode_reader(std::io::Cursor::new(&bytes), bytes.len() as u64, target, options, budget).expect("decode")
        };
        let budget = MemoryBudget::unlimited();
        let fast = DecodeOptions::default();
        // 701 * 4/8 >= 2 * 100, but 701 * 2/8 is not.
        let image = decode(Target::ShortSide(100), &fast, &budget);
        assert_eq!(image.pixels.dimensions(), (501, 351));
        assert_eq!((image.width, image.height), (1001, 701), "the payload keeps the full size");
        assert_eq!(image.region, Region { left: 0.0, top: 0.0, width: 500.5, height: 350.5 });
        assert_eq!(budget.in_use(), 501 * 351 * 3, "the budget holds the scaled output");
        drop(image);
        assert_eq!(decode(Target::ShortSide(40), &fast, &budget).pixels.dimensions(), (126, 88), "1/8");
        assert_eq!(decode(Target::Size { width: 240, height: 80 }, &fast, &budget).pixels.dimensions(), (501, 351));
        for (target, options) in [
            (Target::ShortSide(351), fast),
            (Target::Full, fast),
            (Target::ShortSide(40), DecodeOptions { full_decode: true, ..fast }),
        ] {
            let image = decode(target, &options, &budget);
            assert_eq!(
                (image.pixels.dimensions(), image.region),
                ((1001, 701), Region::whole(1001, 701)),
                "{target:?}"
            );
        }
    }

    #[test]
    fn the_region_follows_the_padding_through_every_orientation() {
        // 1001x701 at 4/8: 501x351 pixels, the last column and row half padding.
        let (width, height) = (1001, 701);
        let padded = RgbImage::from_fn(501, 351, |x, y| image::Rgb([u8::from(x == 500 || y == 350), 0, 0]));
        for exif in 1..=8 {
            let orientation = Orientation::from_exif(exif).expect("an EXIF orientation");
            let mut oriented = DynamicImage::ImageRgb8(padded.clone());
            oriented.apply_orientation(orientation);
            let oriented = oriented.into_rgb8();
            let region = Region::of_scaled(width, height, 4, orientation);
            assert_eq!(
                (region.width.ceil() as u32, region.height.ceil() as u32),
                oriented.dimensions(),
                "{orientation:?}"
            );
            for (x, y, pixel) in oriented.enumerate_pixels() {
                let (x, y) = (f64::from(x), f64::from(y));
                let inside = x >= region.left
                    && x + 1.0 <= region.left + region.width
                    && y >= region.top
                    && y + 1.0 <= region.top + region.height;
                assert_eq!(pixel.0[0] == 0, inside, "{orientation:?} at {x},{y}: {region:?}");
            }
        }
    }

    #[test]
    fn checkpoints_without_the_field_decode_at_full_size() {
        let recorded: DecodeOptions = serde_json::from_str(r#"{"max_pixels": 5}"#).expect("parse");
        assert!(recorded.full_decode);
        assert_eq!(recorded.max_pixels, 5);
        assert!(DecodeOptions::before_recorded().full_decode && !DecodeOptions::default().full_decode);
        let round_trip: DecodeOptions =
            serde_json::from_str(&serde_json::to_string(&DecodeOptions::default()).expect("print")).expect("parse");
        assert_eq!(round_trip, DecodeOptions::default());
    }

    #[test]
    fn still_webp_decodes_through_libwebp_exactly_and_a_damaged_one_fails_as_corrupt() {
        let budget = MemoryBudget::unlimited();
        let image = image::RgbaImage::from_fn(67, 45, |x, y| image::Rgba([x as u8 * 3, y as u8 * 5, 90, 255]));
        let mut webp = Vec::new();
        image.write_to(&mut std::io::Cursor::new(&mut webp), ImageFormat::WebP).expect("encode a lossless WebP");
        let features = webp::Features::read(&webp).expect("header");
        assert_eq!((features.width, features.height, features.animated), (67, 45, false));
        let decoded = decode_bytes_for(&webp, Target::Full, &DecodeOptions::default(), &budget).expect("decode");
        let rgb = match decoded.pixels.clone() {
            Pixels::Rgb(rgb) => rgb,
            Pixels::Rgba(rgba) => DynamicImage::ImageRgba8(rgba).into_rgb8(),
        };
        assert_eq!(rgb, DynamicImage::ImageRgba8(image).into_rgb8(), "lossless: every pixel");
        assert_eq!(decoded.format, "webp");
        drop(decoded);
        assert_eq!(budget.in_use(), 0);
        // Keep the RIFF and VP8L headers, scramble the entropy-coded pixels.
        for byte in &mut webp[30..] {
            *byte = byte.wrapping_mul(31).wrapping_add(7);
        }
        let error = decode_bytes_for(&webp, Target::Full, &DecodeOptions::default(), &budget).unwrap_err();
        assert!(matches!(error.class, ErrorClass::Corrupt | ErrorClass::Truncated), "{error:?}");
        assert!(error.message.starts_with("WebP: "), "{}", error.message);
    }

    #[test]
    fn the_reservation_lives_as_long_as_the_image() {
        let budget = MemoryBudget::new(1 << 30);
        let mut png = Vec::new();
        image::RgbaImage::new(10, 10)
            .write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png)
            .expect("encode a PNG");
        let image = decode_bytes_for(&png, Target::Full, &DecodeOptions::default(), &budget).expect("decode");
        // RGBA8 decoded (400 bytes), then its RGB copy (300 bytes).
        assert_eq!(budget.in_use(), 700);
        drop(image);
        assert_eq!(budget.in_use(), 0);
    }
}
