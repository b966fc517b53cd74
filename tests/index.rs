//! `imbed index` and `imbed search` end to end, on the bundled images and the tiny model.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use predicates::prelude::*;
use predicates::str::contains;
use serde_json::Value;

#[test]
fn indexes_every_fixture_image_and_reindexing_does_not_duplicate() {
    let ws = Workspace::new();
    let expected = fixture_image_count() as u64;
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["items"]["done"], expected);
    assert_eq!(summary["items"]["failed"], 0);
    assert_eq!(points(&summary), expected);
    assert!(ws.path().join("imbed-store/images").is_dir(), "default store ./imbed-store, collection images");

    let (again, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0);
    assert_eq!(points(&again), expected, "deterministic IDs overwrite instead of duplicating");
}

#[test]
fn every_indexed_image_finds_itself_first() {
    let ws = Workspace::new();
    let mut copies = Vec::new();
    for entry in walkdir::WalkDir::new(fixture_images()).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let bytes = std::fs::read(entry.path()).expect("read fixture");
            ws.write(&format!("photos/{name}"), &bytes);
            copies.push(Path::new("photos").join(name));
        }
    }
    let (summary, code) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(code, 0, "{summary}");
    let queries: Vec<&Path> = copies.iter().map(PathBuf::as_path).collect();
    let results = ws.search_many(&queries, 3);
    assert_eq!(results.len(), copies.len(), "one JSON line per query image");
    for (query, result) in copies.iter().zip(&results) {
        let best = &result["results"][0];
        assert_eq!(best["path"], query.to_string_lossy().as_ref(), "{result}");
        assert!(best["score"].as_f64().expect("score") > 0.999, "{result}");
        let runner_up = result["results"][1]["score"].as_f64().expect("score");
        assert!(runner_up < 0.999, "distinct images must not look identical: {result}");
    }
}

#[test]
fn payload_has_file_facts_and_search_prints_a_table() {
    let ws = Workspace::new();
    let image = ws.copy_fixture("landscape_gradient.jpg", "a/landscape.jpg");
    let (_, code) = ws.index(&[Path::new("a")], &[]);
    assert_eq!(code, 0);
    let result = ws.search(&image, 1);
    let payload = &result["results"][0]["payload"];
    assert_eq!(payload["path"], "a/landscape.jpg");
    assert_eq!(payload["format"], "jpg");
    assert_eq!(payload["size_bytes"], std::fs::metadata(&image).expect("meta").len());
    assert!(payload["width"].as_u64().expect("width") > 0 && payload["height"].as_u64().expect("height") > 0);
    assert!(payload["mtime"].as_str().expect("mtime").ends_with('Z'));

    ws.imbed()
        .args(["search", "a/landscape.jpg"])
        .assert()
        .success()
        .stdout(contains("a/landscape.jpg"))
        .stdout(contains("1.0000").or(contains("0.9999")));
}

#[test]
fn walk_skips_hidden_and_symlinks_unless_asked_and_matches_extensions_in_any_case() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "tree/visible.JPEG");
    ws.copy_fixture("portrait_shapes.jpg", "tree/.hidden.jpg");
    ws.copy_fixture("checker.webp", "tree/.cache/inside.webp");
    ws.write("tree/notes.txt", b"not an image");
    let outside = ws.copy_fixture("small_stripes.bmp", "elsewhere/linked.bmp");
    std::os::unix::fs::symlink(&outside, ws.path().join("tree/link.bmp")).expect("symlink");

    let (plain, code) = ws.index(&[Path::new("tree")], &["--collection", "plain", "--checkpoint", "plain.ckpt"]);
    assert_eq!(code, 0, "{plain}");
    assert_eq!(plain["items"]["total"], 1, "only visible.JPEG: {plain}");

    let (hidden, _) =
        ws.index(&[Path::new("tree")], &["--collection", "hidden", "--checkpoint", "hidden.ckpt", "--hidden"]);
    assert_eq!(hidden["items"]["total"], 3, "{hidden}");

    let (links, _) =
        ws.index(&[Path::new("tree")], &["--collection", "links", "--checkpoint", "links.ckpt", "--follow-links"]);
    assert_eq!(links["items"]["total"], 2, "{links}");
    assert_eq!(links["items"]["done"], 2);

    // A folder named through a symlink is walked, and is not an item itself.
    std::os::unix::fs::symlink(ws.path().join("tree"), ws.path().join("alias")).expect("symlink");
    let (alias, code) = ws.index(&[Path::new("alias")], &["--collection", "alias", "--checkpoint", "alias.ckpt"]);
    assert_eq!(code, 0, "{alias}");
    assert_eq!(alias["items"]["total"], 1, "{alias}");
}

#[test]
fn manifests_resolve_paths_take_ids_and_carry_fields_into_the_payload() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "data/img/one.jpg");
    ws.copy_fixture("checker.webp", "data/img/two.webp");
    ws.copy_fixture("small_stripes.bmp", "data/img/three.bmp");
    ws.write(
        "data/list.jsonl",
        b"{\"path\": \"img/one.jpg\", \"id\": \"sku-1\", \"label\": \"cat\", \"price\": 3}\n\n{\"path\": \"img/two.webp\", \"tags\": [\"a\", \"b\"]}\n",
    );
    ws.write("data/list.csv", b"id,file,label\n42,img/three.bmp,dog\n");

    let mut command = ws.imbed();
    command.args(["index", "--json", "--manifest", "data/list.jsonl", "--manifest", "data/list.csv", "--model"]);
    let output = command.arg(tiny_model()).output().expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["items"]["done"], 3);

    let one = &ws.search(&ws.path().join("data/img/one.jpg"), 1)["results"][0];
    assert_eq!(one["payload"]["id"], "sku-1");
    assert_eq!(one["payload"]["key"], "sku-1");
    assert_eq!(one["payload"]["label"], "cat");
    assert_eq!(one["payload"]["price"], 3);
    assert_eq!(one["payload"]["path"], "data/img/one.jpg");

    let two = &ws.search(&ws.path().join("data/img/two.webp"), 1)["results"][0];
    assert_eq!(two["payload"]["tags"], serde_json::json!(["a", "b"]));
    assert_eq!(two["payload"]["key"], "data/img/two.webp", "without an id the key is the path");

    let three = &ws.search(&ws.path().join("data/img/three.bmp"), 1)["results"][0];
    assert_eq!(three["payload"]["key"], "42");
    assert_eq!(three["payload"]["label"], "dog");
}

#[test]
fn bad_manifest_lines_fail_as_items_and_the_run_goes_on() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "m/ok.jpg");
    ws.write(
        "m/list.jsonl",
        b"{\"path\": \"ok.jpg\"}\n{not json\n{\"label\": \"no path\"}\n{\"path\": \"missing.jpg\"}\n",
    );
    let mut command = ws.imbed();
    command.args(["index", "--json", "--manifest", "m/list.jsonl", "--model"]).arg(tiny_model());
    let output = command.output().expect("run");
    assert_eq!(output.status.code(), Some(1), "some items failed");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["items"]["done"], 1);
    assert_eq!(summary["items"]["failed"], 3);
    assert_eq!(summary["errors"]["manifest"], 2);
    assert_eq!(summary["errors"]["not_found"], 1);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 2") && stderr.contains("line 3"), "{stderr}");
}

#[test]
fn broken_files_fail_with_a_class_and_the_rest_is_stored() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "mix/good.jpg");
    ws.write("mix/empty.png", b"");
    ws.write("mix/page.jpg", b"<html><body>not an image</body></html>");
    let jpeg = std::fs::read(fixture_images().join("landscape_gradient.jpg")).expect("fixture");
    ws.write("mix/cut.jpg", &jpeg[..jpeg.len() / 3]);
    let (summary, code) = ws.index(&[Path::new("mix")], &[]);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["items"]["done"], 1);
    assert_eq!(summary["errors"]["empty"], 1);
    assert_eq!(summary["errors"]["unsupported"], 1);
    assert_eq!(summary["errors"]["truncated"], 1);
    assert_eq!(summary["items"]["failed"], 3);
    assert_eq!(points(&summary), 1);
}

#[test]
fn a_model_with_a_fixed_batch_size_gets_padded_batches() {
    let ws = Workspace::new();
    let mut command = ws.imbed();
    command.arg("index").arg(fixture_images()).arg("--model").arg(fixtures().join("model-static"));
    let output = command.args(["--json", "--batch-size", "3"]).output().expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("json");
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64);

    // The same image embedded alone (padded) and by the dynamic model agree.
    let image = fixture_images().join("checker.webp");
    let fixed = ws.embed_vector(&image, &fixtures().join("model-static"), &[]);
    let dynamic = ws.embed_vector(&image, &tiny_model(), &[]);
    let cosine: f64 = fixed.iter().zip(&dynamic).map(|(a, b)| a * b).sum();
    assert!(cosine > 0.9999, "cosine {cosine}");
}

#[test]
fn a_bare_onnx_file_needs_a_preset() {
    let ws = Workspace::new();
    let onnx = tiny_model().join("model.onnx");
    ws.imbed()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(&onnx)
        .assert()
        .code(2)
        .stderr(contains("--preprocess clip|siglip|imagenet"));
    let output = ws
        .imbed()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(&onnx)
        .args(["--preprocess", "clip", "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
}

#[test]
fn vectors_are_unit_length_unless_normalisation_is_off() {
    let ws = Workspace::new();
    let image = fixture_images().join("portrait_shapes.jpg");
    let norm = |extra: &[&str]| -> f64 {
        let vector = ws.embed_vector(&image, &tiny_model(), extra);
        vector.iter().map(|x| x * x).sum::<f64>().sqrt()
    };
    assert!((norm(&[]) - 1.0).abs() < 1e-4);
    assert!((norm(&["--no-normalize"]) - 1.0).abs() > 1e-3);
}

#[test]
fn a_store_of_another_dimension_is_a_clear_error() {
    let ws = Workspace::new();
    let info = imbed::sink::edge::CollectionInfo {
        dimension: 8,
        model: "elsewhere".into(),
        preprocess: None,
        output: None,
        normalize: true,
        text_model: None,
        index: None,
    };
    drop(imbed::sink::EdgeStore::open_or_create(&ws.path().join("imbed-store"), "images", &info).expect("create"));
    ws.imbed()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(contains("holds 8-dimensional vectors, but the model gives 64"));
}

#[test]
fn cuda_that_cannot_be_used_is_an_error_not_a_fallback() {
    let ws = Workspace::new();
    let output = ws.index_fixtures().args(["--device", "cuda:0", "--json"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        // A machine with a working CUDA build: the run must have stored every image.
        let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON summary");
        assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
        assert_eq!(points(&summary), fixture_image_count() as u64, "{summary}");
    } else {
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("--device cuda:0") && stderr.contains("CUDA"), "{stderr}");
        assert!(!ws.path().join("imbed-store").exists(), "nothing was written on CPU instead");
        assert!(!ws.path().join("imbed.checkpoint").exists(), "the device is refused before any checkpoint");
    }

    let ws = Workspace::new();
    let output = ws.index_fixtures().args(["--device", "tpu"]).output().expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("invalid device `tpu`") && stderr.contains("--device"), "{stderr}");
    assert!(!ws.path().join("imbed-store").exists(), "nothing was written on CPU instead");
}

#[test]
fn usage_errors_exit_2_with_one_clear_line() {
    let ws = Workspace::new();
    ws.imbed().args(["index", "--model"]).arg(tiny_model()).assert().code(2).stderr(contains("nothing to index"));
    ws.imbed()
        .args(["index", "no-such-folder", "--model"])
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(contains("no-such-folder"));
    ws.imbed().args(["index", "."]).assert().code(2).stderr(contains("--model"));
    ws.index_fixtures()
        .args(["--batch-size", "0"])
        .assert()
        .code(2)
        .stderr(contains("invalid value '0' for '--batch-size"));
    ws.index_fixtures().args(["--batch-size", "1", "--json"]).assert().success();
}

#[test]
fn an_extremely_elongated_image_fails_as_too_large_instead_of_exhausting_memory() {
    let ws = Workspace::new();
    ws.copy_fixture("portrait_shapes.jpg", "odd/fine.jpg");
    let sliver = image::RgbImage::from_pixel(4, 40_000, image::Rgb([200, 10, 10]));
    sliver.save(ws.path().join("odd/sliver.png")).expect("write sliver");
    let (summary, code) = ws.index(&[Path::new("odd")], &[]);
    assert_eq!(code, 1, "{summary}");
    assert_eq!(summary["errors"]["too_large"], 1, "{summary}");
    assert_eq!(summary["items"]["done"], 1);
}
