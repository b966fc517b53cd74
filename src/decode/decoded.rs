//! What decoding takes and gives: its options, the smallest image a caller can use, the
//! decoded pixels with the facts of their file, and the error of one image.

use std::time::SystemTime;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage, RgbaImage};
use serde::{Deserialize, Serialize};

#[cfg(test)]
use super::budget::MemoryBudget;
use super::budget::Reservation;
use super::photo::PhotoFacts;
use super::turns_a_quarter;
use crate::item::ErrorClass;

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
    /// Put the EXIF GPS position in the payload (`--payload-gps`); off, it never leaves the file.
    pub payload_gps: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        Self {
            max_pixels: DEFAULT_MAX_PIXELS,
            max_file_size: DEFAULT_MAX_FILE_SIZE,
            full_decode: false,
            payload_gps: false,
        }
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
pub(super) const REDUCING_GAP: u64 = 2;

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
    pub(super) fn of_scaled(width: u32, height: u32, eighths: u8, orientation: Orientation) -> Self {
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
    pub(super) fn of(image: DynamicImage) -> Self {
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
    /// What the EXIF block says of the photo, for the payload.
    pub photo: PhotoFacts,
    /// Held against the decode budget until the image is dropped.
    pub(super) _memory: Reservation,
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
        Self {
            pixels,
            region,
            width,
            height,
            format: "png",
            size_bytes: 0,
            modified: None,
            photo: PhotoFacts::default(),
            _memory: memory,
        }
    }
}

impl DecodeError {
    pub fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self { class, message: message.into() }
    }
}
