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

use decode::{decode_bytes, Background, DecodeOptions, MemoryBudget};
use libfuzzer_sys::fuzz_target;
use preprocess::{Layout, Preprocessor};

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
    let Ok(image) = decode_bytes(data, &options, &budget) else {
        return;
    };
    assert_eq!((image.width, image.height), image.rgb.dimensions());
    let preprocessor = Preprocessor::from_preset(cli::PreprocessPreset::Clip);
    if preprocessor.check_size(image.width, image.height).is_ok() {
        let (height, width) = preprocessor.output_size();
        let mut slot = vec![0.0; 3 * height as usize * width as usize];
        preprocessor.apply(&image.rgb, Layout::Nchw, &mut slot).expect("preprocess a decoded image");
        assert!(slot.iter().all(|value| value.is_finite()));
    }
});
