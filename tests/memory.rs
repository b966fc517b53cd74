//! Peak memory does not grow with the number of images (the stages are joined by bounded
//! channels), nor with the size of the images in flight (the decode memory budget), and a
//! decompression bomb is refused before its pixels are allocated.

mod common;

use std::path::Path;

use common::*;

/// Runs `imbed index` on `count` images and returns the child's peak RSS in KiB.
fn peak_rss_kib(ws: &Workspace, folder: &str, count: usize) -> i64 {
    let images = ws.path().join(folder);
    std::fs::create_dir_all(&images).expect("folder");
    let sources: Vec<_> = ["landscape_gradient.jpg", "portrait_shapes.jpg", "checker.webp", "plasma_lzw.tif"]
        .iter()
        .map(|name| fixture_images().join(name))
        .collect();
    for i in 0..count {
        let source = &sources[i % sources.len()];
        let extension = source.extension().expect("extension").to_string_lossy();
        std::fs::copy(source, images.join(format!("{i:05}.{extension}"))).expect("copy");
    }
    let (code, peak) = index_peak_rss_kib(ws, folder, &[]);
    assert_eq!(code, 0, "imbed failed");
    peak
}

/// Runs `imbed index FOLDER` (collection and checkpoint named after it) and returns its exit
/// code and peak RSS in KiB. imbed reports its own peak: the `ru_maxrss` of wait4 would also
/// count this test process's memory at the spawn (its high-water mark, since the child shares
/// its pages until exec), which hides the child's peak behind the parent's.
fn index_peak_rss_kib(ws: &Workspace, folder: &str, extra: &[&str]) -> (i32, i64) {
    let report = ws.path().join(format!("{folder}.peak-rss"));
    let output = ws
        .imbed()
        .env("IMBED_DEBUG_PEAK_RSS", &report)
        .args(["index", folder, "--quiet", "--batch-size", "8", "--collection", folder, "--checkpoint"])
        .arg(format!("{folder}.ckpt"))
        .args(extra)
        .arg("--model")
        .arg(tiny_model())
        .output()
        .expect("run imbed");
    let peak = std::fs::read_to_string(&report).expect("imbed reports its peak RSS");
    (output.status.code().expect("exit code"), peak.trim().parse().expect("KiB"))
}

#[test]
fn peak_memory_is_flat_as_the_corpus_grows() {
    let ws = Workspace::new();
    let small = peak_rss_kib(&ws, "small", 40);
    let large = peak_rss_kib(&ws, "large", 800);
    assert!(Path::new(&ws.path().join("imbed-store/large")).is_dir());
    eprintln!("peak RSS: 40 images {small} KiB, 800 images {large} KiB");
    // 20x the images: a pipeline that held items would grow by megabytes per hundred images.
    assert!((large as f64) < small as f64 * 1.3 + 16_384.0, "40 images: {small} KiB, 800 images: {large} KiB");
}

#[test]
fn decompression_bombs_are_refused_from_their_headers_in_little_memory() {
    let ws = Workspace::new();
    let small = peak_rss_kib(&ws, "small", 8);
    let odd = make_odd_images(&ws);
    // PNG 30000x30000, GIF 65535x65535, JPEG 60000x60000, WebP, TIFF, HEIC and AVIF bombs,
    // many copies: decoded, they would need more than 10 GB each.
    let bombs = ws.path().join("bombs");
    std::fs::create_dir_all(&bombs).expect("folder");
    let mut copies = 0;
    for entry in std::fs::read_dir(odd.join("large")).expect("bombs") {
        let path = entry.expect("entry").path();
        copies += 8;
        for copy in 0..8 {
            std::fs::copy(&path, bombs.join(format!("{copy}_{}", path.file_name().expect("name").to_string_lossy())))
                .expect("copy");
        }
    }
    let (code, peak) = index_peak_rss_kib(&ws, "bombs", &[]);
    assert_eq!(code, 1, "every bomb fails");
    let output = ws.imbed().args(["stats", "--json", "--checkpoint", "bombs.ckpt"]).output().expect("stats");
    let stats: serde_json::Value = serde_json::from_slice(&output.stdout).expect("stats JSON");
    assert!(copies >= 56, "the bombs of make_odd_images.py: {copies} copies");
    assert_eq!(stats["errors"]["too_large"], copies, "{stats}");
    eprintln!("peak RSS: 8 small images {small} KiB, {copies} bombs {peak} KiB");
    assert!(peak < small + 32 * 1024, "bombs: {peak} KiB, small images: {small} KiB");
}

#[test]
fn large_images_in_flight_stay_within_the_decode_memory_budget() {
    let ws = Workspace::new();
    // 5000x5000 RGB: 75 MB decoded, a few hundred KB as a PNG.
    let big = image::RgbImage::from_fn(5000, 5000, |x, y| image::Rgb([(x / 20) as u8, (y / 20) as u8, 128]));
    let mut encoded = Vec::new();
    let encoder = image::codecs::png::PngEncoder::new_with_quality(
        &mut encoded,
        image::codecs::png::CompressionType::Fast,
        image::codecs::png::FilterType::Sub,
    );
    big.write_with_encoder(encoder).expect("encode");
    drop(big);
    for folder in ["tight", "loose"] {
        for i in 0..8 {
            ws.write(&format!("{folder}/{i}.png"), &encoded);
        }
    }
    let run = |folder: &str, mib: &str| {
        let (code, peak) = index_peak_rss_kib(&ws, folder, &["--decode-threads", "4", "--decode-memory", mib]);
        assert_eq!(code, 0, "{folder}");
        peak
    };
    // 100 MiB admits one image at a time; 2 GiB lets all four threads decode at once.
    let tight = run("tight", "100");
    let loose = run("loose", "2048");
    eprintln!("peak RSS with 4 decode threads: --decode-memory 100: {tight} KiB, 2048: {loose} KiB");
    assert!(tight + 100 * 1024 < loose, "the budget must hold back decodes: {tight} vs {loose} KiB");
}
