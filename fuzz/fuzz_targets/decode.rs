//! Arbitrary bytes through imbed's decoder and preprocessing: every input must end as an
//! image or an error, never a panic, a hang or an allocation beyond the limits.
//!
//! The modules come straight from ../src, so that this target builds in minutes without
//! imbed's ONNX Runtime, Qdrant and SQLite dependencies.
#![no_main]
#![allow(dead_code)]

#[path = "../../src/decode/mod.rs"]
mod decode;
#[path = "../../src/item.rs"]
mod item;
#[path = "../../src/preprocess.rs"]
mod preprocess;

/// Stands in for the command-line preset enum that preprocess.rs names.
mod cli {
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum PreprocessPreset {
        Clip,
        Siglip,
        Imagenet,
    }
}

use decode::{decode_bytes_for, Background, DecodeOptions, MemoryBudget, Target};
use libfuzzer_sys::fuzz_target;
use preprocess::{Layout, Preprocessor, Resize};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast and inside libFuzzer's memory limit; the checks are the
    // same at any size.
    let options = DecodeOptions {
        max_pixels: 16_000_000,
        max_file_size: 64 << 20,
        background: Background::BLACK,
        ..DecodeOptions::default()
    };
    let budget = MemoryBudget::new(512 << 20);
    // A 16-pixel input, so that JPEGs of 64 pixels and more take the reduced-scale path that
    // the pipeline takes for large ones; inputs of even length decode at full size.
    let preprocessor = Preprocessor {
        resize: Some(Resize::ShortestEdge(16)),
        crop: Some((16, 16)),
        ..Preprocessor::from_preset(cli::PreprocessPreset::Clip)
    };
    let target = if data.len() % 2 == 1 { preprocessor.decode_target() } else { Target::Full };
    let Ok(image) = decode_bytes_for(data, target, &options, &budget) else {
        return;
    };
    let (decoded_w, decoded_h) = image.rgb.dimensions();
    assert!(decoded_w <= image.width && decoded_h <= image.height, "a reduced decode is never larger");
    if target == Target::Full {
        assert_eq!((image.width, image.height), (decoded_w, decoded_h));
    }
    if preprocessor.check_size(image.width, image.height).is_ok() {
        let (height, width) = preprocessor.output_size();
        let mut slot = vec![0.0; 3 * height as usize * width as usize];
        preprocessor
            .apply_region(&image.rgb, image.region, (image.width, image.height), Layout::Nchw, &mut slot)
            .expect("preprocess a decoded image");
        assert!(slot.iter().all(|value| value.is_finite()));
    }
});
