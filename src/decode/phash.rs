//! The perceptual hash of decoded pixels: a 64-bit DCT hash ("pHash": a 16x16 grey thumbnail,
//! its DCT, the 8x8 lowest frequencies against their median), through `image_hasher`. Two
//! images a person would call the same photo (resized, recompressed, re-encoded, slightly
//! brightened) lie a few bits apart; distinct photos lie about 32 apart.

use fast_image_resize::images::Image;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::{imageops, GrayImage, RgbImage};
use image_hasher::{HashAlg, Hasher, HasherConfig};
use std::sync::OnceLock;

use super::Pixels;

/// The side of the thumbnail the hash is taken from: `image_hasher` resizes to twice the
/// hash side before its DCT, so 8x8 bits come from 16x16 pixels.
const HASH_SIDE: u32 = 8;
const THUMBNAIL_SIDE: u32 = 2 * HASH_SIDE;
/// Source pixels sampled per thumbnail pixel and side: 8x8 = 64 of them.
const SUPER_SAMPLES: u8 = 8;

/// The pHash of `pixels`, as 64 bits (the first byte of `image_hasher`'s the highest).
pub fn perceptual_hash(pixels: &Pixels) -> u64 {
    static HASHER: OnceLock<Hasher<[u8; 8]>> = OnceLock::new();
    let hasher = HASHER.get_or_init(|| {
        HasherConfig::with_bytes_type::<[u8; 8]>()
            .hash_size(HASH_SIDE, HASH_SIDE)
            .hash_alg(HashAlg::Median)
            .preproc_dct()
            .to_hasher()
    });
    u64::from_be_bytes(hasher.hash_image(&thumbnail(pixels)).into_inner())
}

/// The Hamming distance of two perceptual hashes: how many of their 64 bits differ.
pub fn hash_distance(a: u64, b: u64) -> u32 {
    (a ^ b).count_ones()
}

/// A 16x16 grey thumbnail. `image_hasher` would greyscale the whole image and resize it with
/// `image`'s Lanczos3; on a 12 MP photo that costs about as much as decoding it. A box filter
/// (an area average) over every source pixel still cost 8 to 14% of the decode of a JPEG, PNG
/// or WebP (examples/hash-cost.rs); super-sampling (the nearest 128x128 pixels, then the box
/// filter over 8x8 of them) costs a fraction of that, and the hash barely moves.
fn thumbnail(pixels: &Pixels) -> GrayImage {
    let rgb: std::borrow::Cow<'_, RgbImage> = match pixels {
        Pixels::Rgb(rgb) => std::borrow::Cow::Borrowed(rgb),
        // Alpha is dropped, not composited: the hash compares shapes, and a transparent
        // region keeps whatever colour its encoder left, as Pillow's convert("RGB") does.
        Pixels::Rgba(rgba) => std::borrow::Cow::Owned(image::DynamicImage::ImageRgba8(rgba.clone()).into_rgb8()),
    };
    let (width, height) = rgb.dimensions();
    let fallback = || imageops::grayscale(&imageops::thumbnail(rgb.as_ref(), THUMBNAIL_SIDE, THUMBNAIL_SIDE));
    let Ok(source) = fast_image_resize::images::ImageRef::new(width, height, rgb.as_raw(), PixelType::U8x3) else {
        return fallback();
    };
    let mut small = Image::new(THUMBNAIL_SIDE, THUMBNAIL_SIDE, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::SuperSampling(FilterType::Box, SUPER_SAMPLES));
    if Resizer::new().resize(&source, &mut small, &options).is_err() {
        return fallback();
    }
    let small = RgbImage::from_raw(THUMBNAIL_SIDE, THUMBNAIL_SIDE, small.into_vec());
    match small {
        Some(small) => imageops::grayscale(&small),
        None => fallback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A smooth picture of waves, `x_period` and `y_period` pixels long.
    fn waves(width: u32, height: u32, x_period: f32, y_period: f32) -> RgbImage {
        RgbImage::from_fn(width, height, |x, y| {
            let wave = (x as f32 / x_period).sin() * (y as f32 / y_period).cos();
            let value = (128.0 + 100.0 * wave) as u8;
            image::Rgb([value, value / 2, 255 - value])
        })
    }

    #[test]
    fn a_resized_copy_hashes_alike_and_another_picture_does_not() {
        let photo = waves(640, 480, 90.0, 70.0);
        let smaller = imageops::resize(&photo, 320, 240, imageops::FilterType::Triangle);
        let other = waves(640, 480, 40.0, 110.0);
        let hash = perceptual_hash(&Pixels::Rgb(photo));
        assert!(hash_distance(hash, perceptual_hash(&Pixels::Rgb(smaller))) <= 4);
        let apart = hash_distance(hash, perceptual_hash(&Pixels::Rgb(other)));
        assert!(apart > 16, "other waves are {apart} bits away");
    }

    #[test]
    fn an_image_of_one_pixel_has_a_hash() {
        let one = RgbImage::from_pixel(1, 1, image::Rgb([9, 9, 9]));
        let _ = perceptual_hash(&Pixels::Rgb(one));
    }
}
