use std::path::Path;

use image::RgbImage;

use super::*;
use crate::decode::Region;

const CLIP_CONFIG: &str = r#"{"crop_size": {"height":224,"width":224}, "do_center_crop": true,
    "do_convert_rgb": true, "do_normalize": true, "do_rescale": true, "do_resize": true,
    "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}}"#;

fn apply_rgb(preprocessor: &Preprocessor, image: RgbImage, layout: Layout, slot: &mut [f32]) {
    let image = DecodedImage::of_pixels(Pixels::Rgb(image));
    preprocessor.apply(&image, layout, slot).unwrap();
}

#[test]
fn clip_config_matches_the_clip_preset() {
    let parsed = Preprocessor::from_json(CLIP_CONFIG).unwrap();
    assert_eq!(parsed, Preprocessor::from_preset(Preset::Clip));
    assert_eq!(parsed.output_size(), (224, 224));
}

#[test]
fn the_steps_describe_themselves_in_stable_words() {
    let clip = Preprocessor::from_preset(Preset::Clip).with_background(Background::BLACK);
    assert_eq!(
        describe(clip.steps()),
        "composite over #000000; resize shortest_edge=224 filter=bicubic; center_crop 224x224; \
         rescale 0.003921569; normalize mean=0.48145467,0.4578275,0.40821072 std=0.26862955,0.2613026,0.2757771"
    );
    let full = DecodeOptions { full_decode: true, ..DecodeOptions::default() };
    assert_ne!(clip.fingerprint(&full), clip.fingerprint(&DecodeOptions::default()));
    assert_ne!(clip.fingerprint(&full), Preprocessor::from_preset(Preset::Clip).fingerprint(&full));
}

#[test]
fn steps_must_come_in_order_once_each() {
    let resize = Step::Resize { size: Resize::ShortestEdge(8), filter: Filter::Bilinear };
    assert!(Preprocessor::new(vec![resize, Step::Rescale(1.0)]).is_ok());
    assert!(Preprocessor::new(vec![Step::Rescale(1.0), resize]).is_err());
    assert!(Preprocessor::new(vec![resize, resize]).is_err());
    assert!(Preprocessor::new(vec![Step::Rescale(1.0)]).is_err(), "no size");
}

#[test]
fn shortest_edge_truncates_the_long_side_like_transformers() {
    let clip = Preprocessor::from_preset(Preset::Clip);
    assert_eq!(clip.resized_size(640, 480), (298, 224));
    assert_eq!(clip.resized_size(480, 641), (224, 299));
}

#[test]
fn siglip_and_convnext_sizes() {
    let siglip = r#"{"image_processor_type": "SiglipImageProcessor", "size": {"height": 384, "width": 384},
        "image_mean": [0.5,0.5,0.5], "image_std": [0.5,0.5,0.5]}"#;
    assert_eq!(Preprocessor::from_json(siglip).unwrap().output_size(), (384, 384));
    let convnext =
        r#"{"image_processor_type": "ConvNextImageProcessor", "size": {"shortest_edge": 224}, "crop_pct": 0.875}"#;
    let parsed = Preprocessor::from_json(convnext).unwrap();
    assert_eq!(parsed.resize(), Some((Resize::ShortestEdge(256), Filter::Bicubic)));
    assert_eq!(parsed.output_size(), (224, 224));
}

#[test]
fn pads_with_zero_pixels_where_the_image_is_smaller_than_the_crop() {
    let crop_only = Preprocessor::new(vec![
        Step::CenterCrop { height: 4, width: 4 },
        Step::Rescale(1.0 / 255.0),
        Step::Normalize { mean: [0.5; 3], std: [0.5; 3] },
    ])
    .unwrap();
    let mut slot = vec![9.0; 3 * 4 * 4];
    apply_rgb(&crop_only, RgbImage::from_pixel(2, 2, image::Rgb([255, 255, 255])), Layout::Nhwc, &mut slot);
    let at = |y: usize, x: usize| slot[(y * 4 + x) * 3];
    assert_eq!(at(0, 0), -1.0, "padding is pixel 0, normalised");
    assert_eq!(at(1, 1), 1.0, "the image sits in the centre");
    assert_eq!(at(2, 2), 1.0);
    assert_eq!(at(3, 3), -1.0);
}

#[test]
fn transparent_pixels_take_the_background_colour() {
    let crop_only = Preprocessor::new(vec![Step::CenterCrop { height: 1, width: 2 }]).unwrap();
    let mut rgba = image::RgbaImage::new(2, 1);
    rgba.put_pixel(0, 0, image::Rgba([10, 20, 30, 0]));
    rgba.put_pixel(1, 0, image::Rgba([200, 100, 0, 255]));
    let image = DecodedImage::of_pixels(Pixels::Rgba(rgba));
    let mut slot = vec![0.0; 6];
    crop_only.with_background(Background([0, 0, 255])).apply(&image, Layout::Nhwc, &mut slot).unwrap();
    assert_eq!(slot, [0.0, 0.0, 255.0, 200.0, 100.0, 0.0], "transparent: the background; opaque: the pixel");
}

#[test]
fn a_reduced_image_with_its_region_gives_the_full_image_tensor() {
    let (width, height) = (1003, 757);
    let wave = |x: u32, y: u32| 128.0 + 100.0 * ((x as f32 / 37.0).sin() * (y as f32 / 53.0).cos());
    let full = RgbImage::from_fn(width, height, |x, y| image::Rgb([wave(x, y) as u8, (y / 3) as u8, 50]));
    // What a 1/4 DCT-scale decode gives: 4x4 block means, the last column and row padded
    // by repeating the edge, as JPEG encoders do.
    let reduced = RgbImage::from_fn(width.div_ceil(4), height.div_ceil(4), |bx, by| {
        let mut sum = [0u32; 3];
        for (x, y) in (0..4).flat_map(|dy| (0..4).map(move |dx| (bx * 4 + dx, by * 4 + dy))) {
            let pixel = full.get_pixel(x.min(width - 1), y.min(height - 1)).0;
            (0..3).for_each(|c| sum[c] += u32::from(pixel[c]));
        }
        image::Rgb(sum.map(|s| ((s + 8) / 16) as u8))
    });
    let clip = Preprocessor::from_preset(Preset::Clip);
    let pass = |_: &RgbImage| kernel::Pass {
        filter: Filter::Bicubic,
        resized: clip.resized_size(width, height),
        output: (224, 224),
        affine: clip.affine(),
        layout: Layout::Nchw,
    };
    let mut expected = vec![0.0; 3 * 224 * 224];
    kernel::run(&pass(&full), &full, Region::whole(width, height), &mut expected).unwrap();
    let region = Region { left: 0.0, top: 0.0, width: width as f64 / 4.0, height: height as f64 / 4.0 };
    let mut got = vec![0.0; 3 * 224 * 224];
    kernel::run(&pass(&reduced), &reduced, region, &mut got).unwrap();
    // In 8-bit levels: one level is about 0.015 after normalisation.
    let levels: Vec<f32> = expected.iter().zip(&got).map(|(a, b)| (a - b).abs() * 0.27 * 255.0).collect();
    let mean = levels.iter().sum::<f32>() / levels.len() as f32;
    let max = levels.iter().copied().fold(0.0, f32::max);
    assert!(mean < 0.5 && max < 3.0, "mean {mean} max {max} levels");
    // Without the region, the padding column and row stretch the picture.
    let whole = Region::whole(reduced.width(), reduced.height());
    kernel::run(&pass(&reduced), &reduced, whole, &mut got).unwrap();
    let shifted = expected.iter().zip(&got).map(|(a, b)| (a - b).abs() * 0.27 * 255.0).sum::<f32>();
    assert!(shifted / levels.len() as f32 > 2.0 * mean, "{shifted} vs {mean}");
}

#[test]
fn writes_normalised_planes() {
    let clip = Preprocessor::from_preset(Preset::Clip);
    let mut slot = vec![0.0; 3 * 224 * 224];
    apply_rgb(&clip, RgbImage::from_pixel(300, 224, image::Rgb([255, 0, 128])), Layout::Nchw, &mut slot);
    let expected_red = (1.0 - CLIP_MEAN[0]) / CLIP_STD[0];
    let expected_green = (0.0 - CLIP_MEAN[1]) / CLIP_STD[1];
    assert!((slot[0] - expected_red).abs() < 1e-4);
    assert!((slot[224 * 224 + 17] - expected_green).abs() < 1e-4);
}

#[test]
fn an_elongated_image_fails_as_too_large_before_resizing() {
    let clip = Preprocessor::from_preset(Preset::Clip);
    let image = DecodedImage::of_pixels(Pixels::Rgb(RgbImage::new(10, 100_000)));
    let error = clip.apply(&image, Layout::Nchw, &mut vec![0.0; clip.slot_len()]).unwrap_err();
    assert_eq!(error.class, ErrorClass::TooLarge, "{error}");
}

#[test]
fn backgrounds_parse_and_print() {
    assert_eq!("white".parse(), Ok(Background::WHITE));
    assert_eq!("Black".parse(), Ok(Background::BLACK));
    assert_eq!("#FF8000".parse(), Ok(Background([255, 128, 0])));
    assert_eq!(Background([255, 128, 0]).to_string(), "#ff8000");
    for bad in ["", "#ff80", "ff8000", "#gg0000", "#ff80001", "red", "#ÿÿÿ"] {
        assert!(bad.parse::<Background>().is_err(), "{bad}");
    }
}

#[test]
fn alpha_is_composited_over_the_background() {
    let mut rgba = image::RgbaImage::new(2, 1);
    rgba.put_pixel(0, 0, image::Rgba([200, 100, 0, 0]));
    rgba.put_pixel(1, 0, image::Rgba([200, 100, 0, 128]));
    let rgb = kernel::with_composite(&rgba, Background([0, 0, 255]), Clone::clone);
    assert_eq!(rgb.get_pixel(0, 0).0, [0, 0, 255], "fully transparent: the background");
    assert_eq!(rgb.get_pixel(1, 0).0, [100, 50, 127], "half: the mean");
}

#[test]
fn the_fingerprint_of_imbed_0_1_is_recognised() {
    // What imbed 0.1 recorded for tests/fixtures/model with reduced-scale JPEG decoding
    // (tests/fixtures/checkpoint-0.1), and what it recorded with --full-decode --background black.
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/model/preprocessor_config.json");
    let clip = Preprocessor::from_file(Path::new(path)).unwrap();
    let reduced = DecodeOptions::default();
    assert_eq!(clip.legacy_fingerprint(&reduced).as_deref(), Some("xxh3:16e24a025385961e099b83a6d7180f28"));
    assert_ne!(clip.fingerprint(&reduced), "xxh3:16e24a025385961e099b83a6d7180f28");
    let full = DecodeOptions { full_decode: true, ..reduced };
    let black = clip.with_background(Background::BLACK);
    assert_eq!(black.legacy_fingerprint(&full).as_deref(), Some("xxh3:efafd8366d9626fe5493a91cc62a6e56"));
}
