//! Every image a user has: a generated corpus of odd and broken files (scripts/make_odd_images.py)
//! in every format, with EXIF orientations, transparency, bombs and broken files. Each file must
//! end as done, with the right pixels, or failed with the right class.

mod common;

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::*;
use imbed::decode::{decode_bytes_for, decode_file_for, DecodeError, DecodeOptions, MemoryBudget, Target};
use imbed::preprocess::{Background, Layout, Preprocessor, Step};
use serde_json::Value;

/// Writes the odd corpus under `ws/odd` and returns its folder and expectations.
fn odd_corpus(ws: &Workspace) -> (PathBuf, BTreeMap<String, Value>) {
    let out = make_odd_images(ws);
    let expected = std::fs::read(out.join("expected.json")).expect("expected.json");
    (out, serde_json::from_slice(&expected).expect("expected.json parses"))
}

/// Every item of a checkpoint: path -> (state, class, message).
fn checkpoint_items(checkpoint: &Path) -> BTreeMap<PathBuf, (i64, Option<String>, Option<String>)> {
    let connection = rusqlite::Connection::open(checkpoint).expect("open the checkpoint");
    let mut statement =
        connection.prepare("SELECT path, state, error_class, error_message FROM items").expect("query items");
    let rows = statement
        .query_map([], |row| {
            let path: Vec<u8> = row.get(0)?;
            Ok((PathBuf::from(OsStr::from_bytes(&path)), (row.get(1)?, row.get(2)?, row.get(3)?)))
        })
        .expect("items");
    rows.map(|row| row.expect("row")).collect()
}

fn stats_json(ws: &Workspace, checkpoint: &str) -> Value {
    let output = ws.imbed().args(["stats", "--json", "--checkpoint", checkpoint]).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stats JSON")
}

#[test]
fn every_odd_file_is_done_or_fails_with_its_class() {
    let ws = Workspace::new();
    let (corpus, expected) = odd_corpus(&ws);
    let (summary, code) = ws.index(&[&corpus], &[]);
    assert_eq!(code, 1, "some files must fail: {summary}");

    let items = checkpoint_items(&ws.path().join("imbed.checkpoint"));
    let mut wrong = Vec::new();
    let mut expected_classes: BTreeMap<&str, u64> = BTreeMap::new();
    for (name, expectation) in &expected {
        let want = expectation["class"].as_str().expect("class");
        *expected_classes.entry(want).or_default() += 1;
        let Some((state, class, message)) = items.get(&corpus.join(name)) else {
            wrong.push(format!("{name}: not in the checkpoint"));
            continue;
        };
        let got = match state {
            1 => "done",
            2 => class.as_deref().unwrap_or("?"),
            _ => "pending",
        };
        if got != want {
            wrong.push(format!("{name}: expected {want}, got {got} ({})", message.as_deref().unwrap_or_default()));
        }
        if *state == 2 && message.as_deref().is_none_or(str::is_empty) {
            wrong.push(format!("{name}: failed without a reason"));
        }
    }
    assert!(wrong.is_empty(), "{} of {} files wrong:\n{}", wrong.len(), expected.len(), wrong.join("\n"));
    assert_eq!(items.len(), expected.len(), "expected.json itself is not an image extension");

    // The same counts through `imbed stats --json`.
    let stats = stats_json(&ws, "imbed.checkpoint");
    for (class, count) in &expected_classes {
        let got = if *class == "done" { &stats["items"]["done"] } else { &stats["errors"][*class] };
        assert_eq!(got, count, "{class}: {stats}");
    }
    assert_eq!(points(&summary), expected_classes["done"]);
}

/// Decodes a file at full size and composites it over `background` through imbed's own
/// steps: a crop to the whole image, without rescaling, gives the pixels back as values.
fn decode_rgb(
    path: &Path,
    options: &DecodeOptions,
    background: Background,
    budget: &MemoryBudget,
) -> Result<image::RgbImage, DecodeError> {
    let image = decode_file_for(path, Target::Full, options, budget)?;
    let steps = vec![Step::Composite(background), Step::CenterCrop { height: image.height, width: image.width }];
    let preprocessor = Preprocessor::new(steps).expect("steps");
    let mut slot = vec![0.0; preprocessor.slot_len()];
    preprocessor.apply(&image, Layout::Nhwc, &mut slot)?;
    let pixels = slot.iter().map(|&value| value as u8).collect();
    Ok(image::RgbImage::from_raw(image.width, image.height, pixels).expect("whole image"))
}

#[test]
fn decoded_pixels_are_upright_and_composited_over_white() {
    let ws = Workspace::new();
    let (corpus, expected) = odd_corpus(&ws);
    let budget = MemoryBudget::unlimited();
    let mut wrong = Vec::new();
    for (name, expectation) in expected.iter().filter(|(_, e)| e["class"] == "done") {
        let image = match decode_rgb(&corpus.join(name), &DecodeOptions::default(), Background::WHITE, &budget) {
            Ok(image) => image,
            Err(error) => {
                wrong.push(format!("{name}: {} {}", error.class, error.message));
                continue;
            }
        };
        let size = [image.width(), image.height()];
        if serde_json::json!(size) != expectation["size"] {
            wrong.push(format!("{name}: size {size:?}, expected {}", expectation["size"]));
            continue;
        }
        let tolerance = expectation["tolerance"].as_i64().expect("tolerance");
        for sample in expectation["samples"].as_array().expect("samples") {
            let (x, y) = (sample[0].as_u64().expect("x") as u32, sample[1].as_u64().expect("y") as u32);
            let want: Vec<i64> = sample[2].as_array().expect("rgb").iter().map(|c| c.as_i64().expect("c")).collect();
            let got = image.get_pixel(x, y).0;
            if got.iter().zip(&want).any(|(&g, &w)| (i64::from(g) - w).abs() > tolerance) {
                wrong.push(format!("{name}: pixel ({x}, {y}) is {got:?}, expected {want:?} ± {tolerance}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Inputs the fuzzer (fuzz/) found, kept as regressions: `tests/fixtures/fuzz/CLASS--WHAT.EXT`.
#[test]
fn inputs_the_fuzzer_found_end_with_their_class() {
    // The fuzz target's settings.
    let options = DecodeOptions { max_pixels: 16_000_000, ..DecodeOptions::default() };
    let budget = MemoryBudget::new(512 << 20);
    let mut found = 0;
    for entry in std::fs::read_dir(fixtures().join("fuzz")).expect("tests/fixtures/fuzz") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        let (class, _) = name.split_once("--").expect("named CLASS--WHAT");
        let bytes = std::fs::read(&path).expect("read");
        let got = match decode_bytes_for(&bytes, Target::Full, &options, &budget) {
            Ok(_) => "done".to_string(),
            Err(error) => error.class.to_string(),
        };
        assert_eq!(got, class, "{name}");
        found += 1;
    }
    assert!(found > 0);
}

#[test]
fn transparency_goes_over_the_chosen_background_which_the_checkpoint_remembers() {
    let ws = Workspace::new();
    let (corpus, _) = odd_corpus(&ws);
    let budget = MemoryBudget::unlimited();
    for (background, colour) in [("black", [0, 0, 0]), ("#3366ff", [0x33, 0x66, 0xff])] {
        let options = DecodeOptions::default();
        for name in ["png/rgba.png", "png/rgba16.png", "webp/alpha_lossless.webp", "tiff/rgba.tif"] {
            let over = background.parse().expect("colour");
            let image = decode_rgb(&corpus.join(name), &options, over, &budget).expect("decode");
            assert_eq!(image.get_pixel(4, 4).0, colour, "{name} over {background}");
        }
    }

    // The flag reaches the pixels: over white, the image embeds like its flattened copy.
    let rgba = corpus.join("png/rgba.png");
    let flattened = ws.path().join("flat.png");
    let options = DecodeOptions::default();
    decode_rgb(&rgba, &options, Background::WHITE, &budget).expect("decode").save(&flattened).expect("save");
    let white = ws.embed_vector(&rgba, &tiny_model(), &[]);
    let black = ws.embed_vector(&rgba, &tiny_model(), &["--background", "black"]);
    let flat = ws.embed_vector(&flattened, &tiny_model(), &[]);
    let cosine = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    assert!(cosine(&white, &flat) > 0.99999, "white background = flattened over white");
    assert!(cosine(&white, &black) < 0.9999, "black background differs");

    // Another background is a preprocessing change: the checkpoint refuses to mix vectors.
    let folder = corpus.join("png");
    let (_, code) = ws.index(&[&folder], &["--collection", "bg", "--checkpoint", "bg.ckpt"]);
    assert_eq!(code, 0);
    let output = ws
        .imbed()
        .arg("index")
        .arg(&folder)
        .args(["--collection", "bg", "--checkpoint", "bg.ckpt", "--background", "black", "--model"])
        .arg(tiny_model())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("preprocessing has changed"));
    let output = ws.index_fixtures().args(["--background", "teal"]).output().expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'teal' for '--background"), "{stderr}");
}

#[test]
fn size_limits_fail_as_too_large_and_resume_keeps_them() {
    let ws = Workspace::new();
    ws.copy_fixture("small_stripes.bmp", "limits/small.bmp");
    ws.copy_fixture("landscape_gradient.jpg", "limits/large.jpg");
    let noise: Vec<u8> = (0..1_500_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let big = image::RgbImage::from_raw(1000, 500, noise).expect("image");
    big.save(ws.path().join("limits/big_file.png")).expect("save");
    assert!(std::fs::metadata(ws.path().join("limits/big_file.png")).expect("meta").len() > 1 << 20);
    let (summary, code) = ws.index(&[Path::new("limits")], &["--max-pixels", "100k", "--max-file-size", "1"]);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["items"]["done"], 1, "{summary}");
    assert_eq!(summary["errors"]["too_large"], 2, "{summary}");
    let stats = stats_json(&ws, "imbed.checkpoint");
    let examples = stats["error_examples"]["too_large"].to_string();
    assert!(examples.contains("640x480 is 307200 pixels") && examples.contains("--max-pixels"), "{examples}");
    assert!(examples.contains("--max-file-size"), "{examples}");
}

#[test]
fn special_and_unreadable_files_fail_without_hanging() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "special/fine.jpg");
    let fifo = ws.path().join("special/pipe.jpg");
    let name = std::ffi::CString::new(fifo.as_os_str().as_bytes()).expect("path");
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(name.as_ptr(), 0o644) }, 0, "mkfifo");
    let locked = ws.copy_fixture("portrait_shapes.jpg", "special/locked.jpg");
    std::fs::set_permissions(&locked, std::os::unix::fs::PermissionsExt::from_mode(0o000)).expect("chmod");
    let Some((summary, code)) = ws.index_unprivileged(&[Path::new("special")], &[]) else {
        skip("running as root without setpriv: file modes cannot be tested");
        return;
    };
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["items"]["done"], 1, "{summary}");
    assert_eq!(summary["errors"]["unsupported"], 1, "the FIFO: {summary}");
    assert_eq!(summary["errors"]["permission"], 1, "{summary}");
}
