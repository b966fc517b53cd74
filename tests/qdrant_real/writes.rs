//! What lands in the collection, how it is set up, and what search and push read back.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::common::{fixture_image_count, fixture_images, search_server, text_model, tiny_model, Workspace};
use crate::{assert_exactly_once, common, real_qdrant};

#[test]
fn points_land_with_vectors_and_payload_and_search_finds_them() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "search";
    let ws = Workspace::new();
    let (summary, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(summary["sink"]["qdrant"], server.url(), "{summary}");
    assert_eq!(summary["sink"]["points"], fixture_image_count() as u64, "{summary}");
    assert_exactly_once(server, COLLECTION, &ws, &[]);

    let info = server.collection(COLLECTION);
    assert_eq!(info["config"]["params"]["vectors"]["size"], 64, "{info}");
    assert_eq!(info["config"]["params"]["vectors"]["distance"], "Cosine", "{info}");

    let image = fixture_images().join("portrait_shapes.jpg");
    let points = server.points(COLLECTION);
    let point = point_named(&points, "portrait_shapes.jpg");
    let payload = &point["payload"];
    assert_eq!(payload["format"], "jpg", "{payload}");
    assert!(payload["width"].as_u64().is_some() && payload["height"].as_u64().is_some(), "{payload}");
    assert!(payload["size_bytes"].as_u64().is_some() && payload["mtime"].is_string(), "{payload}");
    let expected = ws.embed_vector(&image, &tiny_model(), &[]);
    let similarity = cosine(&vector_of(point), &expected);
    assert!(similarity > 0.9999, "stored vector differs from `imbed embed`: cosine {similarity}");

    let hits = search_server(&ws, &server.url(), COLLECTION, &image);
    let best = &hits["results"][0];
    assert!(best["path"].as_str().expect("path").ends_with("portrait_shapes.jpg"), "{hits}");
    assert!(best["score"].as_f64().expect("score") > 0.9999, "{hits}");
    assert_eq!(best["id"], point["id"], "{hits}");

    // stats reads the collection's state from the server.
    let summary = ws.stats_with(&[]);
    let state = &summary["sink"]["collections"][0];
    let info = server.collection(COLLECTION);
    assert_eq!(state["status"], "green", "{summary}");
    assert_eq!(state["points"], fixture_image_count() as u64, "{summary}");
    assert_eq!(state["indexed_vectors"], info["indexed_vectors_count"], "{summary} vs {info}");
    assert_eq!(state["collection"], COLLECTION, "{summary}");
}

/// `imbed search --json --qdrant URL --text-model ... ARGS` against `collection`: stdout, exit code, stderr.
fn search_text_on(ws: &Workspace, url: &str, collection: &str, args: &[&str]) -> (String, i32, String) {
    let output = ws
        .imbed()
        .args(["search", "--top", "100", "--qdrant", url, "--collection", collection, "--model"])
        .arg(tiny_model())
        .arg("--text-model")
        .arg(text_model())
        .args(args)
        .output()
        .expect("search");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (text(&output.stdout), output.status.code().unwrap_or(-1), text(&output.stderr))
}

#[test]
fn text_queries_and_payload_filters_are_answered_by_the_server() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "filters";
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &[]);
    assert_eq!(code, 0, "{stderr}");
    let points = server.points(COLLECTION);
    let passes = |p: &&Value| p["payload"]["format"] == "png" && p["payload"]["width"].as_u64() >= Some(100);
    let expected: BTreeSet<String> =
        points.iter().filter(passes).map(|p| p["id"].as_str().expect("id").to_string()).collect();
    assert!(!expected.is_empty() && expected.len() < points.len(), "{points:?}");

    let (stdout, code, stderr) = search_text_on(
        &ws,
        &server.url(),
        COLLECTION,
        &["--json", "--text", "a dog", "--filter", "format=png", "--filter", "width>=100"],
    );
    assert_eq!(code, 0, "{stderr}");
    let hits: Value = serde_json::from_str(&stdout).expect("JSON");
    let found: BTreeSet<String> = hits["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(found, expected, "{hits}");

    // Combined with an image and a score floor: the image itself, alone.
    let image = fixture_images().join("grayscale_portrait.png").display().to_string();
    let args = ["--json", "--image", &image, "--text", "0.01:a dog", "--filter", "format=png", "--min-score", "0.999"];
    let (stdout, code, stderr) = search_text_on(&ws, &server.url(), COLLECTION, &args);
    assert_eq!(code, 0, "{stderr}");
    let hits: Value = serde_json::from_str(&stdout).expect("JSON");
    let results = hits["results"].as_array().expect("results");
    assert!(
        results.len() == 1 && results[0]["path"].as_str().expect("path").ends_with("grayscale_portrait.png"),
        "{hits}"
    );

    // Nothing passes: exit 0, nothing printed.
    let (stdout, code, stderr) =
        search_text_on(&ws, &server.url(), COLLECTION, &["--text", "a dog", "--filter", "format=heic"]);
    assert_eq!((code, stdout.as_str()), (0, ""), "{stderr}");
}

#[test]
fn cluster_settings_and_bulk_load_reach_the_collection() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "setup";
    let ws = Workspace::new();
    let extra = ["--shards", "2", "--replication-factor", "1", "--on-disk", "--bulk"];
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &extra);
    assert_eq!(code, 0, "{stderr}");
    let info = server.collection(COLLECTION);
    let params = &info["config"]["params"];
    assert_eq!(params["shard_number"], 2, "{info}");
    assert_eq!(params["replication_factor"], 1, "{info}");
    assert_eq!(params["on_disk_payload"], true, "{info}");
    assert_eq!(params["vectors"]["on_disk"], true, "{info}");
    assert_eq!(params["vectors"]["size"], 64, "{info}");
    // The bulk load ended, so indexing is back on.
    assert_eq!(info["config"]["hnsw_config"]["m"], 16, "{info}");
    assert_exactly_once(server, COLLECTION, &ws, &[]);
    let state = &ws.stats_with(&[])["sink"]["collections"][0];
    assert_eq!((state["bulk_load"].as_bool(), state["hnsw_m"].as_u64()), (Some(false), Some(16)), "{state}");
}

#[test]
fn a_collection_of_another_dimension_or_distance_is_refused_before_anything_is_embedded() {
    let Some(server) = real_qdrant::shared() else { return };
    for (collection, vectors, words) in [
        ("dim32", json!({"size": 32, "distance": "Cosine"}), "holds 32-dimensional vectors with cosine distance"),
        ("dot64", json!({"size": 64, "distance": "Dot"}), "holds 64-dimensional vectors with dot distance"),
    ] {
        let (status, reply) = server.put(&format!("/collections/{collection}"), &json!({"vectors": vectors}));
        assert_eq!(status, 200, "{reply}");
        let ws = Workspace::new();
        let (_, code, stderr) = ws.index_into_server(&server.url(), collection, &[]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains(words) && stderr.contains("use another --collection"), "{stderr}");
        assert_eq!(server.count(collection), 0);
        // Nothing was embedded: no item of the run is done or failed.
        if ws.path().join("imbed.checkpoint").exists() {
            let summary = ws.stats_with(&[]);
            assert_eq!(summary["items"]["done"].as_u64().unwrap_or(0), 0, "{summary}");
            assert_eq!(summary["items"]["failed"].as_u64().unwrap_or(0), 0, "{summary}");
        }
    }
}

#[test]
fn push_copies_the_embedded_store_into_the_server() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "pushed";
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let output = ws
        .imbed()
        .args(["push", "--qdrant", &server.url(), "--collection", "images", "--to-collection", COLLECTION])
        .args(["--upsert-batch", "3", "--json"])
        .output()
        .expect("push");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("push JSON");
    assert_eq!(report["pushed"], fixture_image_count() as u64, "{report}");
    assert_eq!(report["sink"]["points"], fixture_image_count() as u64, "{report}");
    assert_eq!(server.count(COLLECTION), fixture_image_count() as u64);

    // The same ID, payload and vector as in the store.
    let points = server.points(COLLECTION);
    let image = fixture_images().join("checker.webp");
    let found = ws.search(&image, 1);
    let point = point_named(&points, "checker.webp");
    assert_eq!(point["id"], found["results"][0]["id"], "{found}");
    let expected = ws.embed_vector(&image, &tiny_model(), &[]);
    let similarity = cosine(&vector_of(point), &expected);
    assert!(similarity > 0.9999, "pushed vector differs: cosine {similarity}");
    let stored = common::stored_payloads(&ws, "images");
    let keys: BTreeSet<String> =
        stored.iter().map(|payload| payload["key"].as_str().expect("key").to_string()).collect();
    let pushed: BTreeSet<String> =
        points.iter().map(|point| point["payload"]["key"].as_str().expect("key").to_string()).collect();
    assert_eq!(keys, pushed);
}

#[test]
fn named_vectors_are_written_and_searched_by_name() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "named";
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--vector-name", "clip"]);
    assert_eq!(code, 0, "{stderr}");
    let info = server.collection(COLLECTION);
    assert_eq!(info["config"]["params"]["vectors"]["clip"]["size"], 64, "{info}");
    let points = server.points(COLLECTION);
    assert!(points.iter().all(|point| point["vector"]["clip"].is_array()), "{points:?}");

    let image = fixture_images().join("checker.webp");
    let output = ws
        .imbed()
        .args(["search", "--json", "--qdrant", &server.url(), "--collection", COLLECTION, "--vector-name", "clip"])
        .arg("--model")
        .arg(tiny_model())
        .arg(&image)
        .output()
        .expect("search");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let hits: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert!(hits["results"][0]["path"].as_str().expect("path").ends_with("checker.webp"), "{hits}");
}

fn cosine(a: &[f64], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(a) * norm(b))
}

fn vector_of(point: &Value) -> Vec<f64> {
    point["vector"].as_array().expect("a vector").iter().map(|x| x.as_f64().expect("number")).collect()
}

/// The point whose path ends with `name`.
fn point_named<'a>(points: &'a [Value], name: &str) -> &'a Value {
    points
        .iter()
        .find(|point| point["payload"]["path"].as_str().is_some_and(|path| path.ends_with(name)))
        .unwrap_or_else(|| panic!("no point for {name}"))
}
