//! What phones and cameras write (issue 24): HEIC and AVIF decode as Pillow + pillow-heif
//! decode them, and EXIF reaches the payload, where `search --filter` finds it.

mod common;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;

use std::path::{Path, PathBuf};

use common::*;
use imbed::decode::{decode_bytes_for, decode_file_for, DecodeOptions, MemoryBudget, Pixels, Target};
use imbed::item::ErrorClass;
use serde_json::Value;

/// Every file of the odd corpus that has Pillow's decode beside it in `odd_pillow/`.
fn pillow_references(corpus: &Path) -> Vec<(String, PathBuf)> {
    let references = corpus.with_file_name("odd_pillow");
    let mut pairs: Vec<(String, PathBuf)> = walkdir::WalkDir::new(&references)
        .into_iter()
        .map(|entry| entry.expect("walk").into_path())
        .filter(|path| path.is_file())
        .map(|png| {
            let relative = png.strip_prefix(&references).expect("under").to_string_lossy().into_owned();
            (relative.strip_suffix(".png").expect("NAME.png").to_string(), png)
        })
        .collect();
    pairs.sort();
    pairs
}

#[test]
fn heic_and_avif_decode_upright_and_embed_as_pillow_decodes_them() {
    let ws = Workspace::new();
    let corpus = make_odd_images(&ws);
    let pairs = pillow_references(&corpus);
    assert!(pairs.iter().filter(|(name, _)| name.ends_with(".heic") || name.ends_with(".avif")).count() >= 10);
    let cosine = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let mut wrong = Vec::new();
    for (name, reference) in &pairs {
        let file = corpus.join(name);
        let decoded = decode_file_for(&file, Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited());
        let decoded = match decoded {
            Ok(decoded) => decoded,
            Err(error) => {
                wrong.push(format!("{name}: {} {}", error.class, error.message));
                continue;
            }
        };
        let want = image::image_dimensions(reference).expect("Pillow's PNG");
        if (decoded.width, decoded.height) != want {
            wrong.push(format!("{name}: {}x{}, Pillow {want:?}", decoded.width, decoded.height));
        }
        let ours = ws.embed_vector(&file, &tiny_model(), &[]);
        let pillow = ws.embed_vector(reference, &tiny_model(), &[]);
        let similarity = cosine(&ours, &pillow);
        if similarity < 0.999 {
            wrong.push(format!("{name}: cosine {similarity:.5} to Pillow's pixels"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The TIFF and BMP variants of scripts/make_tiff_bmp_variants.py under `ws/variants`, and
/// Pillow's upright RGBA decode of each that Pillow decodes under `ws/variants_pillow`.
fn make_variants(ws: &Workspace) -> (PathBuf, PathBuf) {
    let (out, pillow) = (ws.path().join("variants"), ws.path().join("variants_pillow"));
    run_script("make_tiff_bmp_variants.py", &[out.as_os_str(), "--pillow".as_ref(), pillow.as_os_str()]);
    (out, pillow)
}

/// Variants Pillow decodes, which imbed decodes to other pixels, and why.
const OTHER_THAN_PILLOW: &[(&str, &str)] =
    &[("pil_i16.tif", "16-bit gray: imbed scales 65535 to 255, as for every 16-bit image; Pillow clamps at 255")];

/// Variants Pillow refuses, which imbed decodes.
const BEYOND_PILLOW: &[&str] = &[
    "bmp_os2v2_short.bmp", // the 16-byte OS/2 2.x header, rewritten like the 64-byte one
    "tf_rgb_float32.tif",  // the `image` crate's float RGB
    "tf_uint32.tif",       // the `image` crate's 32-bit RGB
];

/// Variants the `image` crate refuses, decoded through libtiff or a rewritten BMP header.
const ONCE_REFUSED: &[&str] = &[
    "bmp_os2v2.bmp",
    "bmp_os2v2_p8.bmp",
    "bmp_os2v2_rle8.bmp",
    "pil_bilevel_g3.tif",
    "pil_float32_gray.tif",
    "pil_int32_gray.tif",
    "pil_la.tif",
    "pil_la_alpha.tif",
    "pil_palette.tif",
    "pil_ycbcr_jpeg.tif",
    "tf_gray32f.tif",
    "tf_gray32f_bigendian.tif",
    "tf_gray32f_tiled.tif",
    "tf_rgb_lzma.tif",
    "tf_rgba_lzma.tif",
    "tf_uint32_gray.tif",
    "tf_ycbcr_raw.tif",
];

/// How far apart two RGBA pixels are as they are seen: alpha, and colour weighted by alpha (a
/// colour under alpha 0 is not seen).
fn seen_apart(ours: [u8; 4], pillow: [u8; 4]) -> u32 {
    let colour = (0..3).map(|c| u32::from(ours[c].abs_diff(pillow[c])) * u32::from(pillow[3]) / 255).max();
    colour.unwrap_or(0).max(u32::from(ours[3].abs_diff(pillow[3])))
}

fn rgba(pixels: Pixels) -> image::RgbaImage {
    match pixels {
        Pixels::Rgb(rgb) => image::DynamicImage::ImageRgb8(rgb).into_rgba8(),
        Pixels::Rgba(rgba) => rgba,
    }
}

#[test]
fn tiff_and_bmp_variants_decode_as_pillow_decodes_them() {
    let ws = Workspace::new();
    let (variants, references) = make_variants(&ws);
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&variants).expect("variants").map(|entry| entry.expect("entry").path()).collect();
    files.sort();
    assert_eq!(files.len(), 56);
    let (mut wrong, mut same) = (Vec::new(), Vec::new());
    for file in &files {
        let name = file.file_name().expect("name").to_string_lossy().into_owned();
        let reference = references.join(format!("{name}.png"));
        let decoded = decode_file_for(file, Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited());
        match (decoded, reference.is_file()) {
            (Ok(decoded), true) => {
                let (ours, pillow) =
                    (rgba(decoded.pixels), image::open(&reference).expect("Pillow's PNG").into_rgba8());
                if ours.dimensions() != pillow.dimensions() {
                    wrong.push(format!("{name}: {:?}, Pillow {:?}", ours.dimensions(), pillow.dimensions()));
                    continue;
                }
                let off = ours.pixels().zip(pillow.pixels()).map(|(a, b)| seen_apart(a.0, b.0)).max().unwrap_or(0);
                let known = OTHER_THAN_PILLOW.iter().any(|(other, _)| *other == name);
                match (off <= 2, known) {
                    (true, false) => same.push(name),
                    (false, true) => {}
                    (true, true) => wrong.push(format!("{name}: now as Pillow; take it off OTHER_THAN_PILLOW")),
                    (false, false) => wrong.push(format!("{name}: a channel {off} levels off Pillow's")),
                }
            }
            (Ok(_), false) if BEYOND_PILLOW.contains(&name.as_str()) => {}
            (Ok(_), false) => wrong.push(format!("{name}: decoded, and Pillow refuses it")),
            (Err(error), true) => wrong.push(format!("{name}: {} {}", error.class, error.message)),
            (Err(error), false) if BEYOND_PILLOW.contains(&name.as_str()) => {
                wrong.push(format!("{name}: {} {}", error.class, error.message))
            }
            (Err(_), false) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Pillow decodes 52 of the 56; all but one come out as Pillow's.
    assert_eq!(same.len(), 51, "{same:?}");
    assert!(ONCE_REFUSED.iter().all(|name| same.iter().any(|done| done == name)), "{same:?}");

    // Pillow refuses the 16-byte OS/2 2.x header: it holds the pixels of the 64-byte one.
    let decode = |name: &str| {
        let file = variants.join(name);
        rgba(
            decode_file_for(&file, Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited())
                .expect(name)
                .pixels,
        )
    };
    assert!(decode("bmp_os2v2_short.bmp") == decode("bmp_os2v2.bmp"), "the short OS/2 2.x header");

    // Cut short, each once-refused variant fails as truncated, not as corrupt or with a panic.
    for name in ONCE_REFUSED {
        let bytes = std::fs::read(variants.join(name)).expect("read");
        let cut = &bytes[..bytes.len() * 2 / 3];
        let error =
            decode_bytes_for(cut, Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited()).expect_err(name);
        assert_eq!(error.class, ErrorClass::Truncated, "{name}: {}", error.message);
    }
}

/// The three photos with EXIF and one without, under `ws/photos`.
fn photo_folder(ws: &Workspace) -> PathBuf {
    let corpus = make_odd_images(ws);
    let folder = ws.path().join("photos");
    std::fs::create_dir_all(&folder).expect("mkdir");
    for name in ["exif/photo.jpg", "heic/exif.heic", "avif/exif.avif", "heic/rgb8.heic"] {
        std::fs::copy(corpus.join(name), folder.join(name.replace('/', "_"))).expect("copy");
    }
    folder
}

fn search_json(ws: &Workspace, collection: &str, args: &[&str]) -> Value {
    let output = ws
        .imbed()
        .args(["search", "--json", "--top", "100", "--collection", collection])
        .args(args)
        .output()
        .expect("search");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

fn hit_count(hits: &Value) -> usize {
    hits["results"].as_array().expect("results").len()
}

#[test]
fn exif_facts_reach_the_payload_and_gps_only_when_asked() {
    let ws = Workspace::new();
    let folder = photo_folder(&ws);
    let (_, code) = ws.index(&[&folder], &["--collection", "plain"]);
    assert_eq!(code, 0);
    let (_, code) = ws.index(&[&folder], &["--collection", "gps", "--checkpoint", "gps.ckpt", "--payload-gps"]);
    assert_eq!(code, 0);

    for collection in ["plain", "gps"] {
        let payloads = stored_payloads(&ws, collection);
        assert_eq!(payloads.len(), 4);
        for payload in &payloads {
            let path = payload["path"].as_str().expect("path");
            if path.ends_with("rgb8.heic") {
                assert!(payload.get("taken_at").is_none() && payload.get("gps").is_none(), "{payload:?}");
                continue;
            }
            assert_eq!(payload["taken_at"], "2024-05-06T07:08:09+02:00", "{path}");
            assert_eq!(payload["camera"], "Apple iPhone 15 Pro", "{path}");
            assert_eq!(payload["lens"], "iPhone 15 Pro back triple camera 6.765mm f/1.78", "{path}");
            match collection {
                "gps" => {
                    let (lat, lon) =
                        (payload["gps"]["lat"].as_f64().expect("lat"), payload["gps"]["lon"].as_f64().expect("lon"));
                    assert!((lat - 48.8581).abs() < 1e-3 && (lon - 2.2945).abs() < 1e-3, "{path}: {lat} {lon}");
                }
                _ => assert!(payload.get("gps").is_none(), "{path}: gps without --payload-gps"),
            }
        }
    }

    // Datetime ranges and a geo radius, evaluated by the embedded store.
    let image = folder.join("heic_rgb8.heic");
    let image = image.to_str().expect("UTF-8 path");
    let search =
        |collection, filter: &str| hit_count(&search_json(&ws, collection, &["--image", image, "--filter", filter]));
    assert_eq!(search("gps", "taken_at>=2024-05-06"), 3);
    assert_eq!(search("gps", "taken_at>=2024-05-06T06:00:00Z"), 0, "07:08 at +02:00 is 05:08 UTC");
    assert_eq!(search("gps", "taken_at<=2024-05-06T05:09:00Z"), 3);
    assert_eq!(search("gps", "gps~48.86,2.29,2"), 3);
    assert_eq!(search("gps", "gps~51.5,-0.12,50"), 0, "London is not near the Eiffel tower");
    assert_eq!(search("plain", "gps~48.86,2.29,2"), 0);
}

#[test]
fn datetime_and_geo_filters_are_answered_by_the_server() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let folder = photo_folder(&ws);
    let url = server.url();
    let output = ws
        .imbed()
        .arg("index")
        .arg(&folder)
        .args(["--qdrant", &url, "--collection", "photos", "--payload-gps", "--json", "--model"])
        .arg(tiny_model())
        .output()
        .expect("index");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let image = folder.join("heic_rgb8.heic");
    let image = image.to_str().expect("UTF-8 path");
    let search = |filter: &str| {
        let output = ws
            .imbed()
            .args(["search", "--json", "--top", "100", "--qdrant", &url, "--collection", "photos", "--model"])
            .arg(tiny_model())
            .args(["--image", image, "--filter", filter])
            .output()
            .expect("search");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        hit_count(&serde_json::from_slice(&output.stdout).expect("one JSON object"))
    };
    assert_eq!(search("taken_at>=2024-05-06"), 3);
    assert_eq!(search("taken_at>=2024-05-06T06:00:00Z"), 0, "07:08 at +02:00 is 05:08 UTC");
    assert_eq!(search("gps~48.86,2.29,2"), 3);
    assert_eq!(search("gps~51.5,-0.12,50"), 0);
}

/// Every point of an embedded collection: its vector and payload, by key.
fn stored_points(ws: &Workspace, collection: &str) -> std::collections::BTreeMap<String, (Vec<f32>, Value)> {
    let store = imbed::sink::EdgeStore::open(&ws.path().join("imbed-store"), collection).expect("open the store");
    let (mut points, mut start) = (std::collections::BTreeMap::new(), None);
    loop {
        let (page, next) = store.read_points(start, 256).expect("read the store");
        for point in page {
            let key = point.payload["key"].as_str().expect("key").to_string();
            points.insert(key, (point.vector, Value::Object(point.payload)));
        }
        match next {
            Some(next) => start = Some(next),
            None => return points,
        }
    }
}

fn embedded_keys(log: &Path) -> usize {
    std::fs::read_to_string(log).unwrap_or_default().lines().count()
}

#[test]
fn refresh_payload_adds_the_gps_to_done_items_without_calling_the_model() {
    let ws = Workspace::new();
    let folder = photo_folder(&ws);
    let log = ws.path().join("embedded.log");
    let log_flag = ["--debug-embed-log", log.to_str().expect("UTF-8 path")];
    let (_, code) = ws.index(&[&folder], &log_flag);
    assert_eq!(code, 0);
    assert_eq!(embedded_keys(&log), 4);
    let before = stored_points(&ws, "images");
    assert!(before.values().all(|(_, payload)| payload.get("gps").is_none()));

    let (summary, code) = ws.index(&[&folder], &["--refresh-payload", "--payload-gps", log_flag[0], log_flag[1]]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["run"]["refreshed"], 4, "{summary}");
    assert_eq!(embedded_keys(&log), 4, "no item went through the model again");
    let after = stored_points(&ws, "images");
    assert_eq!(after.len(), 4);
    for (key, (vector, payload)) in &after {
        let (old_vector, old_payload) = &before[key];
        assert_eq!(vector, old_vector, "{key}: the vector is kept");
        assert_eq!(payload["content_hash"], old_payload["content_hash"], "{key}");
        assert_eq!(payload.get("gps").is_some(), !key.ends_with("rgb8.heic"), "{key}: {payload}");
    }
    let stats = ws.stats_with(&[]);
    assert_eq!((stats["items"]["done"].as_u64(), stats["items"]["pending"].as_u64()), (Some(4), Some(0)));
}

#[test]
fn refresh_payload_rewrites_payloads_on_the_server() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let folder = photo_folder(&ws);
    let url = server.url();
    let collection = format!("refresh-{}", std::process::id());
    let index = |extra: &[&str]| {
        let output = ws
            .imbed()
            .arg("index")
            .arg(&folder)
            .args(["--qdrant", &url, "--collection", &collection, "--json", "--model"])
            .arg(tiny_model())
            .args(extra)
            .output()
            .expect("index");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).expect("one JSON object")
    };
    index(&[]);
    let image = folder.join("heic_rgb8.heic");
    let image = image.to_str().expect("UTF-8 path");
    let near_paris = || {
        let output = ws
            .imbed()
            .args(["search", "--json", "--top", "100", "--qdrant", &url, "--collection", &collection, "--model"])
            .arg(tiny_model())
            .args(["--image", image, "--filter", "gps~48.86,2.29,2"])
            .output()
            .expect("search");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        hit_count(&serde_json::from_slice(&output.stdout).expect("one JSON object"))
    };
    assert_eq!(near_paris(), 0, "no gps without --payload-gps");
    let summary = index(&["--refresh-payload", "--payload-gps"]);
    assert_eq!((summary["run"]["refreshed"].as_u64(), summary["run"]["done"].as_u64()), (Some(4), Some(0)));
    assert_eq!(near_paris(), 3);
}

#[test]
fn a_grid_heic_decodes_whole_and_a_grid_of_100000_squared_fails_from_its_header() {
    let ws = Workspace::new();
    let folder = ws.path().join("grid");
    run_script("make_heic_grid.py", &[folder.as_os_str()]);
    let expected = image::open(folder.join("grid.png")).expect("grid.png").into_rgb8();
    let decoded =
        decode_file_for(&folder.join("grid.heic"), Target::Full, &DecodeOptions::default(), &MemoryBudget::unlimited())
            .expect("the grid decodes");
    let ours = rgba(decoded.pixels);
    assert_eq!(ours.dimensions(), (1300, 900), "the grid's output size, tiles cropped");
    // Lossy HEVC in 4:2:0: the mean tells a misplaced tile (tens of levels) from codec noise.
    let total: u64 = ours
        .pixels()
        .zip(expected.pixels())
        .map(|(a, b)| (0..3).map(|c| u64::from(a.0[c].abs_diff(b.0[c]))).sum::<u64>())
        .sum();
    let mean = total as f64 / (1300.0 * 900.0 * 3.0);
    assert!(mean < 2.0, "mean difference from the drawn picture: {mean:.2}");

    std::fs::remove_file(folder.join("grid.png")).expect("rm");
    let (summary, code) = ws.index(&[&folder], &[]);
    assert_eq!(code, 1, "one item failed: {summary}");
    assert_eq!((summary["items"]["done"].as_u64(), summary["items"]["failed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(summary["errors"]["too_large"], 1, "{summary}");
    let stats = ws.stats_with(&[]);
    let example = stats["error_examples"]["too_large"][0].as_str().expect("an example").to_string();
    assert!(example.contains("grid-bomb.heic") && example.contains("100000x100000"), "{example}");
}
