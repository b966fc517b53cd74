use image::{DynamicImage, ImageFormat, RgbImage};

use super::errors::looks_truncated;
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
    image::RgbImage::new(11, 10).write_to(&mut std::io::Cursor::new(&mut png), ImageFormat::Png).expect("encode a PNG");
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
        decode_reader(std::io::Cursor::new(&bytes), bytes.len() as u64, target, options, budget, None).expect("decode")
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
        assert_eq!((image.pixels.dimensions(), image.region), ((1001, 701), Region::whole(1001, 701)), "{target:?}");
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
        assert_eq!((region.width.ceil() as u32, region.height.ceil() as u32), oriented.dimensions(), "{orientation:?}");
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
