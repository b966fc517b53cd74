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

/// A little-endian TIFF of one strip: `entries` are (tag, SHORT (3) or LONG (4), values); the
/// strip's offset and byte count are added.
fn tiff_file(entries: &[(u16, u16, &[u32])], strip: &[u8]) -> Vec<u8> {
    let mut entries: Vec<(u16, u16, Vec<u32>)> =
        entries.iter().map(|(tag, kind, v)| (*tag, *kind, v.to_vec())).collect();
    entries.extend([(273, 4, vec![8]), (279, 4, vec![strip.len() as u32])]);
    entries.sort_by_key(|entry| entry.0);
    let ifd_at = 8 + strip.len().next_multiple_of(2);
    let mut file = b"II*\0".to_vec();
    file.extend((ifd_at as u32).to_le_bytes());
    file.extend(strip);
    file.resize(ifd_at, 0);
    let extra_at = ifd_at + 2 + 12 * entries.len() + 4;
    let mut extra = Vec::new();
    file.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, values) in &entries {
        let mut bytes: Vec<u8> = match kind {
            3 => values.iter().flat_map(|&v| (v as u16).to_le_bytes()).collect(),
            _ => values.iter().flat_map(|&v| v.to_le_bytes()).collect(),
        };
        file.extend(tag.to_le_bytes());
        file.extend(kind.to_le_bytes());
        file.extend((values.len() as u32).to_le_bytes());
        if bytes.len() <= 4 {
            bytes.resize(4, 0);
            file.extend(bytes);
        } else {
            file.extend(((extra_at + extra.len()) as u32).to_le_bytes());
            extra.extend(bytes);
        }
    }
    file.extend(0u32.to_le_bytes());
    file.extend(extra);
    file
}

/// An 8-bit palette TIFF, which the `image` crate refuses: entry i is (i, 255 - i, 7 * i).
fn palette_tiff(width: u32, height: u32, indices: &[u8]) -> Vec<u8> {
    let colormap: Vec<u32> =
        (0..3).flat_map(|channel| (0..256u32).map(move |i| [i, 255 - i, (7 * i) % 256][channel] * 257)).collect();
    let entries: [(u16, u16, &[u32]); 7] = [
        (256, 4, &[width]),
        (257, 4, &[height]),
        (258, 3, &[8]),
        (262, 3, &[3]),
        (277, 3, &[1]),
        (278, 4, &[height]),
        (320, 3, &colormap),
    ];
    tiff_file(&entries, indices)
}

/// Samples of one gray row of `bits` and SampleFormat `format` (1 unsigned, 2 signed, 3 float).
fn gray_tiff(bits: u32, format: u32, samples: &[u8]) -> Vec<u8> {
    let width = samples.len() as u32 * 8 / bits;
    let entries: [(u16, u16, &[u32]); 7] = [
        (256, 4, &[width]),
        (257, 4, &[1]),
        (258, 3, &[bits]),
        (262, 3, &[1]),
        (277, 3, &[1]),
        (278, 4, &[1]),
        (339, 3, &[format]),
    ];
    tiff_file(&entries, samples)
}

fn gray_row(decoded: &DecodedImage) -> Vec<u8> {
    match &decoded.pixels {
        Pixels::Rgb(rgb) => rgb.pixels().map(|pixel| pixel.0[0]).collect(),
        Pixels::Rgba(rgba) => rgba.pixels().map(|pixel| pixel.0[0]).collect(),
    }
}

#[test]
fn a_tiff_the_image_crate_refuses_is_decoded_by_libtiff_after_its_header_is_checked() {
    let budget = MemoryBudget::new(1 << 30);
    let options = DecodeOptions::default();
    let indices = [0, 1, 2, 3, 250, 251, 252, 253];
    let tiff = palette_tiff(4, 2, &indices);
    let decoded = decode_bytes_for(&tiff, Target::Full, &options, &budget).expect("decode a palette TIFF");
    let Pixels::Rgb(rgb) = &decoded.pixels else { panic!("no alpha in a palette TIFF") };
    let want: Vec<[u8; 3]> = indices.iter().map(|&i| [i, 255 - i, (7 * u32::from(i) % 256) as u8]).collect();
    assert_eq!(rgb.pixels().map(|pixel| pixel.0).collect::<Vec<_>>(), want);
    assert_eq!((decoded.width, decoded.height, decoded.format), (4, 2, "tiff"));
    drop(decoded);
    assert_eq!(budget.in_use(), 0);

    // The header says 100000 x 100000: refused from the directory, before the raster exists.
    let bomb = palette_tiff(100_000, 100_000, &indices);
    let error = decode_bytes_for(&bomb, Target::Full, &options, &budget).unwrap_err();
    assert_eq!(error.class, ErrorClass::TooLarge, "{}", error.message);
    assert!(error.message.contains("100000x100000"), "{}", error.message);
    assert_eq!(budget.in_use(), 0);
    // Cut short, inside the strip.
    let error = decode_bytes_for(&tiff[..12], Target::Full, &options, &budget).unwrap_err();
    assert_eq!(error.class, ErrorClass::Truncated, "{}", error.message);
}

#[test]
fn float_and_integer_gray_tiffs_map_to_8_bits_as_pillow_does() {
    let budget = MemoryBudget::unlimited();
    let decode = |tiff: Vec<u8>| {
        gray_row(&decode_bytes_for(&tiff, Target::Full, &DecodeOptions::default(), &budget).expect("decode"))
    };
    // Pillow's F to RGB truncates towards zero and clamps; NaN is black.
    let floats: Vec<u8> = [-3.0f32, 0.7, 1.5, 254.9, f32::NAN, 300.0].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(decode(gray_tiff(32, 3, &floats)), [0, 0, 1, 254, 0, 255]);
    // Its I to RGB clamps to 0..255.
    let signed: Vec<u8> = [-3i32, 70, 300, 254].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(decode(gray_tiff(32, 2, &signed)), [0, 70, 255, 254]);
    let unsigned: Vec<u8> = [3u32, 70, 300, u32::MAX].iter().flat_map(|v| v.to_le_bytes()).collect();
    assert_eq!(decode(gray_tiff(32, 1, &unsigned)), [3, 70, 255, 255]);
}

/// A 24-bit BMP of two by two pixels whose info header is `header` (its size first).
fn bmp_file(header: &[u8]) -> Vec<u8> {
    let rows = [[10u8, 20, 30, 40, 50, 60, 0, 0], [70, 80, 90, 100, 110, 120, 0, 0]].concat();
    let offset = 14 + header.len() as u32;
    let mut file = b"BM".to_vec();
    file.extend((offset + rows.len() as u32).to_le_bytes());
    file.extend([0; 4]);
    file.extend(offset.to_le_bytes());
    file.extend(header);
    file.extend(rows);
    file
}

#[test]
fn os2_2x_bitmaps_decode_through_a_rewritten_header() {
    let budget = MemoryBudget::unlimited();
    let decode = |file: &[u8]| decode_bytes_for(file, Target::Full, &DecodeOptions::default(), &budget);
    let core = |size: u32| [size.to_le_bytes(), 2u32.to_le_bytes(), 2u32.to_le_bytes()].concat();
    let mut info = [core(40), vec![1, 0, 24, 0], vec![0; 24]].concat();
    let windows = decode(&bmp_file(&info)).expect("decode a BITMAPINFOHEADER").pixels;
    info[..4].copy_from_slice(&64u32.to_le_bytes());
    info.extend([0; 24]);
    assert_eq!(decode(&bmp_file(&info)).expect("decode the 64-byte OS/2 2.x header").pixels, windows);
    let short = [core(16), vec![1, 0, 24, 0]].concat();
    let decoded = decode(&bmp_file(&short)).expect("decode the 16-byte OS/2 2.x header");
    assert_eq!((decoded.pixels, decoded.format), (windows, "bmp"));
    // OS/2's compression 3 is Huffman 1D, not Windows' bitfields.
    info[16] = 3;
    let error = decode(&bmp_file(&info)).unwrap_err();
    assert_eq!(error.class, ErrorClass::Unsupported);
    assert!(error.message.contains("Huffman 1D"), "{}", error.message);
}
