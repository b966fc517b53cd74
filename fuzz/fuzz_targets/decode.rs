//! Arbitrary bytes through imbed's decoder and preprocessing: every input must end as an
//! image or an error, never a panic, a hang or an allocation beyond the limits.
//!
//! The modules come straight from ../src, so that this target builds in minutes without
//! imbed's ONNX Runtime, Qdrant and SQLite dependencies. It calls the pipeline's own
//! `TensorLoader`, without the panic guard, so that a panic reaches the fuzzer.
#![no_main]
#![allow(dead_code, unused_imports)]

#[path = "../../src/decode/mod.rs"]
mod decode;
#[path = "../../src/item.rs"]
mod item;
#[path = "../../src/locator/mod.rs"]
mod locator;
#[path = "../../src/preprocess/mod.rs"]
mod preprocess;
#[path = "../../src/pipeline/tensor.rs"]
mod tensor;
#[path = "../../src/util.rs"]
mod util;

use decode::{DecodeOptions, MemoryBudget};
use libfuzzer_sys::fuzz_target;
use preprocess::{Background, Filter, Layout, Preprocessor, Resize, Step};
use tensor::{ImageSource, TensorLoader};

fuzz_target!(|data: &[u8]| {
    // Small limits keep each run fast and inside libFuzzer's memory limit; the checks are the
    // same at any size.
    let decode = DecodeOptions {
        max_pixels: 16_000_000,
        max_file_size: 64 << 20,
        // Inputs of odd length take the reduced-scale JPEG path that large photos take.
        full_decode: data.len() % 2 == 0,
        payload_gps: false,
    };
    // A 16-pixel input, so that JPEGs of 64 pixels and more are decoded at a reduced scale.
    let preprocessor = Preprocessor::new(vec![
        Step::Composite(Background::BLACK),
        Step::Resize { size: Resize::ShortestEdge(16), filter: Filter::Bicubic },
        Step::CenterCrop { height: 16, width: 16 },
        Step::Rescale(1.0 / 255.0),
        Step::Normalize { mean: [0.5; 3], std: [0.5; 3] },
    ])
    .expect("steps in order");
    let loader =
        TensorLoader { preprocessor: &preprocessor, layout: Layout::Nchw, decode, budget: MemoryBudget::new(512 << 20) };
    let mut slot = vec![0.0; loader.slot_len()];
    let Ok(image) = loader.load_unguarded(ImageSource::Bytes(data), &mut slot) else {
        return;
    };
    let (decoded_w, decoded_h) = image.pixels.dimensions();
    assert!(decoded_w <= image.width && decoded_h <= image.height, "a reduced decode is never larger");
    if decode.full_decode {
        assert_eq!((image.width, image.height), (decoded_w, decoded_h));
    }
    assert!(slot.iter().all(|value| value.is_finite()));
});
