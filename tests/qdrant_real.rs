//! The Qdrant server sink against a real Qdrant (tests/support/real_qdrant.rs), on loopback,
//! with a TCP proxy (tests/support/tcp_proxy.rs) in between for network faults.
//!
//! Most tests share one server, each with collections of its own; those that stop, kill or
//! lock their server start their own. Without a server binary every test is skipped (a failure
//! under CI=true): see real_qdrant.rs for where the binary comes from.

mod common;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

use std::collections::BTreeSet;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{fixture_image_count, fixture_images, search_server, text_model, tiny_model, Workspace};
use real_qdrant::RealQdrant;
use serde_json::{json, Value};
use tcp_proxy::{Fault, TcpProxy};

/// `imbed index` of the fixtures one per batch, in the background, so it can be disturbed.
fn spawn_index(ws: &Workspace, url: &str, collection: &str, extra: &[&str]) -> Child {
    ws.process()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model())
        .args(["--qdrant", url, "--collection", collection, "--batch-size", "1"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn imbed")
}

/// Until `collection` holds at least `n` points; the run must still be going.
fn wait_for_points(server: &RealQdrant, collection: &str, n: u64, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while server.count(collection) < n {
        assert!(child.try_wait().expect("try_wait").is_none(), "the run ended before it was disturbed");
        assert!(Instant::now() < deadline, "{n} points were not written within a minute");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The keys imbed gives the fixtures: their paths as found under the folder on the command line.
fn fixture_keys() -> BTreeSet<String> {
    walkdir::WalkDir::new(fixture_images())
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.path().to_string_lossy().into_owned())
        .collect()
}

/// Every fixture is in `collection` exactly once, under the ID imbed derives from its key
/// (read over REST), and the checkpoint agrees.
fn assert_exactly_once(server: &RealQdrant, collection: &str, ws: &Workspace, stats_extra: &[&str]) {
    let points = server.points(collection);
    let keys: Vec<String> =
        points.iter().map(|point| point["payload"]["key"].as_str().expect("key payload").to_string()).collect();
    assert_eq!(points.len(), fixture_image_count(), "{keys:?}");
    assert_eq!(keys.iter().cloned().collect::<BTreeSet<_>>(), fixture_keys());
    for (point, key) in points.iter().zip(&keys) {
        assert_eq!(point["id"], imbed::util::point_id(key).to_string(), "{key}");
    }
    assert_eq!(server.count(collection), fixture_image_count() as u64);
    let summary = ws.stats_with(stats_extra);
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], 0, "{summary}");
    assert_eq!(summary["items"]["pending"], 0, "{summary}");
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
fn an_older_server_gets_one_readable_warning_and_the_run_goes_on() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), "version", &[]);
    assert_eq!(code, 0, "{stderr}");
    let version = server.get("/").1["version"].as_str().expect("server version").to_string();
    let needle = format!("runs version {version}; imbed's client speaks 1.20");
    let lines: Vec<&str> = stderr.lines().filter(|line| line.contains(&needle)).collect();
    if version.starts_with("1.19") || version.starts_with("1.2") {
        assert!(lines.is_empty(), "{stderr}");
        return;
    }
    assert_eq!(lines.len(), 1, "the warning once: {stderr}");
    assert!(lines[0].contains("WARN") && !lines[0].contains('\x1b'), "{stderr}");
    assert!(lines[0].contains(&format!("the Qdrant server at {} runs version", server.url())), "{stderr}");
    assert_eq!(server.count("version"), fixture_image_count() as u64);
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

/// Every file of the workspace, whole folder trees included, as bytes.
fn workspace_files(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| (entry.path().to_path_buf(), std::fs::read(entry.path()).expect("read")))
        .collect()
}

#[test]
fn the_api_key_is_required_checked_and_never_written_anywhere() {
    const KEY: &str = "real-s3cret-key-4242";
    let Some(server) = real_qdrant::start(Some(KEY)) else { return };
    const COLLECTION: &str = "keyed";
    let ws = Workspace::new();
    let mut everything = Vec::new();

    let output = ws
        .index_fixtures()
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--max-retries", "0"])
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("check --api-key, IMBED_QDRANT_API_KEY or QDRANT_API_KEY"), "{stderr}");
    everything.extend([output.stdout, output.stderr].concat());

    let output = ws
        .index_fixtures()
        .env("QDRANT_API_KEY", "wrong-key")
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "--max-retries", "0"])
        .output()
        .expect("index");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("check --api-key"), "{stderr}");
    assert!(!server.collection_exists(COLLECTION));

    let output = ws
        .index_fixtures()
        .env("QDRANT_API_KEY", KEY)
        .args(["--qdrant", &server.url(), "--collection", COLLECTION, "-v", "--json"])
        .output()
        .expect("index");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    everything.extend([output.stdout, output.stderr].concat());
    assert_exactly_once(&server, COLLECTION, &ws, &["--api-key", KEY]);

    let output = ws.imbed().env("QDRANT_API_KEY", KEY).args(["stats", "-v"]).output().expect("stats");
    assert!(output.status.success());
    everything.extend([output.stdout, output.stderr].concat());

    // Given as --api-key, it leaves the process title (world-readable in `ps`) at once.
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let titled = Workspace::new();
    let mut child = spawn_index(&titled, &proxy.url(), "keyed-title", &["--api-key", KEY]);
    wait_for_points(&server, "keyed-title", 1, &mut child);
    let title = std::fs::read(format!("/proc/{}/cmdline", child.id())).expect("the process title");
    let title = String::from_utf8_lossy(&title).replace('\0', " ");
    assert!(title.contains("--qdrant") && !title.contains(KEY), "{title}");
    let output = child.wait_with_output().expect("wait");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&server, "keyed-title", &titled, &["--api-key", KEY]);
    everything.extend([output.stdout, output.stderr].concat());
    assert!(!String::from_utf8_lossy(&everything).contains(KEY), "the key was printed");
    for (path, bytes) in workspace_files(ws.path()).into_iter().chain(workspace_files(titled.path())) {
        assert!(!bytes.windows(KEY.len()).any(|w| w == KEY.as_bytes()), "{} holds the key", path.display());
    }
}

#[test]
fn a_server_killed_mid_run_and_restarted_keeps_every_item_exactly_once() {
    let Some(mut server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "killed";
    let ws = Workspace::new();
    // Each chunk either way waits, so the run is still writing when the server dies.
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--max-retries", "10"]);
    wait_for_points(&server, COLLECTION, 3, &mut child);
    server.kill();
    std::thread::sleep(Duration::from_millis(500));
    server.restart();
    proxy.set(Fault::None);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    // Retried through the restart; whatever is left, resume and retry-failed finish.
    assert!(matches!(output.status.code(), Some(0 | 1)), "{stderr}");
    let resume = ws.imbed().args(["resume", "--quiet"]).output().expect("resume");
    assert!(matches!(resume.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&resume.stderr));
    ws.imbed().args(["retry-failed", "--quiet"]).assert().success();
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
    // And the points survive another crash: the WAL replays what was acknowledged.
    server.kill();
    server.restart();
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
}

#[test]
fn a_server_down_longer_than_the_retry_budget_fails_items_as_sink_until_resume() {
    let Some(mut server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "down";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--max-retries", "1"]);
    wait_for_points(&server, COLLECTION, 2, &mut child);
    server.stop();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("[sink]: the server did not take the write after 2 tries"), "{stderr}");
    // The summary names the command that stores them, and the count it could not read.
    assert!(stderr.contains("retry: imbed retry-failed --checkpoint imbed.checkpoint"), "{stderr}");
    assert!(stderr.contains("cannot count the points in the store"), "{stderr}");
    let summary = ws.stats_with(&["--timeout", "1", "--max-retries", "0"]);
    let failed = summary["errors"]["sink"].as_u64().unwrap_or(0);
    assert!(failed > 0 && failed < fixture_image_count() as u64, "{summary}");
    assert_eq!(summary["items"]["failed"], failed, "{summary}");

    server.restart();
    proxy.set(Fault::None);
    let output = ws.imbed().args(["resume", "--json"]).output().expect("resume");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_exactly_once(&server, COLLECTION, &ws, &[]);
}

// Network faults from the proxy, against the shared server.

#[test]
fn added_latency_slows_the_run_but_loses_nothing() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(20)));
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "latency", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "latency", &ws, &[]);
}

#[test]
fn refused_connections_fail_fast_at_start_and_are_retried_mid_run() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.refuse(true);
    let ws = Workspace::new();
    let started = Instant::now();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "refused", &["--max-retries", "1"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("cannot reach the Qdrant server at {}", proxy.url())), "{stderr}");
    assert!(stderr.contains("connection refused"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());

    // Refused for a second in the middle of a run: retried, and every item lands once.
    proxy.refuse(false);
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let mut child = spawn_index(&ws, &proxy.url(), "refused", &["--max-retries", "8"]);
    wait_for_points(server, "refused", 2, &mut child);
    proxy.refuse(true);
    std::thread::sleep(Duration::from_secs(1));
    proxy.refuse(false);
    proxy.set(Fault::None);
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, "refused", &ws, &[]);
}

#[test]
fn a_reset_in_the_middle_of_a_response_is_retried_without_duplicates() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    // Past the health check and the collection calls, into the upserts.
    proxy.set(Fault::ResetMidResponse { times: 3, after: 1500 });
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "reset", &["--max-retries", "8"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(proxy.fired() >= 1, "no reset fired");
    assert!(stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, "reset", &ws, &[]);
}

#[test]
fn a_black_hole_times_out_with_a_clear_message_then_the_run_goes_through() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::BlackHole);
    let ws = Workspace::new();
    let started = Instant::now();
    let extra = ["--timeout", "1", "--connect-timeout", "1", "--max-retries", "1"];
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "blackhole", &extra);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains(&format!("cannot reach the Qdrant server at {}", proxy.url())), "{stderr}");
    assert!(stderr.contains("timed out"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    assert!(!server.collection_exists("blackhole"));

    proxy.set(Fault::None);
    proxy.reset_all();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "blackhole", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "blackhole", &ws, &[]);
}

#[test]
fn a_slow_trickle_still_delivers_every_item() {
    let Some(server) = real_qdrant::shared() else { return };
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Trickle { bytes: 64, every: Duration::from_millis(2) });
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&proxy.url(), "trickle", &[]);
    assert_eq!(code, 0, "{stderr}");
    assert_exactly_once(server, "trickle", &ws, &[]);
}

// Moved from the stand-in (tests/qdrant.rs), which now keeps only what needs a wrong answer.

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

#[test]
fn bulk_load_keeps_indexing_off_until_the_run_and_its_resume_finish() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "bulk-killed";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(60)));
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &["--bulk"]);
    wait_for_points(server, COLLECTION, 1, &mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    let info = server.collection(COLLECTION);
    assert_eq!(info["config"]["hnsw_config"]["m"], 0, "indexing is off while the load is unfinished: {info}");
    let summary = ws.stats_with(&[]);
    assert!(summary["items"]["pending"].as_u64().expect("pending") > 0, "{summary}");
    let state = &summary["sink"]["collections"][0];
    assert_eq!((state["bulk_load"].as_bool(), state["hnsw_m"].as_u64()), (Some(true), Some(0)), "{state}");

    proxy.set(Fault::None);
    ws.imbed().args(["resume", "--quiet"]).assert().success();
    assert_eq!(server.collection(COLLECTION)["config"]["hnsw_config"]["m"], 16);
    assert_exactly_once(server, COLLECTION, &ws, &[]);
    assert_eq!(ws.stats_with(&[])["sink"]["collections"][0]["bulk_load"], false);
}

#[test]
fn an_interrupted_push_goes_on_where_it_stopped_and_a_repeat_changes_nothing() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "push-resumed";
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    let proxy = TcpProxy::start(server.grpc_addr());
    let push = |url: &str| {
        let mut command = ws.process();
        command.args(["push", "--qdrant", url, "--collection", "images", "--to-collection", COLLECTION]);
        command.args(["--upsert-batch", "2", "--upsert-parallel", "1"]);
        command
    };
    // Slow pages, so the push is killed between two of them.
    proxy.set(Fault::Latency(Duration::from_millis(100)));
    let mut child = push(&proxy.url()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn push");
    // Three pages on the server: the first of them is acknowledged by now.
    wait_for_points(server, COLLECTION, 6, &mut child);
    child.kill().expect("SIGKILL");
    child.wait().expect("wait");
    assert!(server.count(COLLECTION) < fixture_image_count() as u64);

    proxy.set(Fault::None);
    let output = push(&proxy.url()).arg("--json").output().expect("push");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).expect("push JSON");
    // It went on from the last acknowledged page instead of starting over.
    assert!(report["pushed"].as_u64().expect("pushed") <= (fixture_image_count() - 2) as u64, "{report}");
    assert_eq!(server.count(COLLECTION), fixture_image_count() as u64);

    // Again: idempotent, with lines (never a bar) into a pipe, and nothing but warnings under -q.
    let output = push(&proxy.url()).output().expect("push");
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("Pushed 10 points") && !stderr.contains('\r') && !stderr.contains('\x1b'), "{stderr}");
    let quiet = push(&proxy.url()).arg("-q").output().expect("push -q");
    assert!(quiet.status.success());
    let stderr = String::from_utf8_lossy(&quiet.stderr);
    assert!(!stderr.contains("Pushed") && !stderr.contains("Pushing") && !stderr.contains('\r'), "{stderr}");
    assert_eq!(server.count(COLLECTION), fixture_image_count() as u64);
}

/// Upsert calls the server has answered, from its Prometheus metrics.
fn upserts_answered(server: &RealQdrant) -> u64 {
    let (status, metrics) = server.get("/metrics");
    assert_eq!(status, 200, "{metrics}");
    let metrics = metrics.as_str().expect("metrics text").to_string();
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(r#"grpc_responses_total{endpoint="/qdrant.Points/Upsert"} "#))
        .map_or(0, |count| count.trim().parse().expect("a count"))
}

/// The `key` payloads of the points in `collection`, sorted; a key twice shows up twice.
fn stored_keys(server: &RealQdrant, collection: &str) -> Vec<String> {
    let mut keys: Vec<String> = server
        .points(collection)
        .iter()
        .map(|point| point["payload"]["key"].as_str().expect("key payload").to_string())
        .collect();
    keys.sort();
    keys
}

#[test]
fn a_nightly_run_sends_only_changes_and_deletes_what_is_gone() {
    // A server of its own: the upsert counter is the whole server's.
    let Some(server) = real_qdrant::start(None) else { return };
    const COLLECTION: &str = "nightly";
    let ws = Workspace::new();
    for name in ["landscape_gradient.jpg", "portrait_shapes.jpg", "checker.webp"] {
        ws.copy_fixture(name, &format!("photos/{name}"));
    }
    let nightly = |ws: &Workspace| {
        let output = ws
            .imbed()
            .args(["index", "photos", "--qdrant", &server.url(), "--collection", COLLECTION])
            .args(["--delete-missing", "--json", "--model"])
            .arg(tiny_model())
            .output()
            .expect("run imbed");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice::<Value>(&output.stdout).expect("JSON summary")
    };
    nightly(&ws);
    let upserts = upserts_answered(&server);
    assert!(upserts > 0);
    let quiet = nightly(&ws);
    assert_eq!(quiet["run"]["planned"], 0, "{quiet}");
    assert_eq!(upserts_answered(&server), upserts, "nothing is sent when nothing changed");

    std::fs::remove_file(ws.path().join("photos/checker.webp")).expect("remove");
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/new.jpg");
    let changed = nightly(&ws);
    assert_eq!((changed["run"]["planned"].as_u64(), changed["run"]["deleted"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        stored_keys(&server, COLLECTION),
        ["photos/landscape_gradient.jpg", "photos/new.jpg", "photos/portrait_shapes.jpg"]
    );
    assert_eq!(ws.stats_with(&[])["items"]["deleted"], 1);
}

#[test]
fn shards_running_at_once_write_every_item_once_into_one_collection() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "sharded";
    let ws = Workspace::new();
    let mut expected = Vec::new();
    for copy in 0..3 {
        for entry in std::fs::read_dir(fixture_images()).expect("fixtures").flatten() {
            if entry.path().is_file() {
                let name = entry.file_name().to_string_lossy().into_owned();
                ws.copy_fixture(&name, &format!("corpus/{copy}/{name}"));
                expected.push(format!("corpus/{copy}/{name}"));
            }
        }
    }
    expected.sort();
    let shards: Vec<_> = (0..3)
        .map(|index| {
            ws.process()
                .env("JOB_COMPLETION_INDEX", index.to_string())
                .args(["index", "corpus", "--qdrant", &server.url(), "--collection", COLLECTION, "--quiet"])
                .args(["--shard-count", "3", "--checkpoint", &format!("shard-{index}.ckpt"), "--model"])
                .arg(tiny_model())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn")
        })
        .collect();
    for shard in shards {
        let output = shard.wait_with_output().expect("wait");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    assert_eq!(stored_keys(server, COLLECTION), expected, "each item once, none missing");
    let merged = ws.stats_with(&["shard-0.ckpt", "shard-1.ckpt", "shard-2.ckpt"]);
    assert_eq!(merged["items"]["done"], expected.len(), "{merged}");
    assert_eq!(merged["sink"]["collections"][0]["points"], expected.len(), "one collection, counted once");
}

/// The checkpoint records how to create the collection, so a resume that must create it (the
/// first run stopped before it existed, or it was dropped since) creates it the same way.
#[test]
fn resume_creates_the_collection_with_the_recorded_setup() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "recreated";
    let ws = Workspace::new();
    let (_, code, stderr) = ws.index_into_server(&server.url(), COLLECTION, &["--shards", "3", "--on-disk"]);
    assert_eq!(code, 0, "{stderr}");
    let (status, reply) = server.delete(&format!("/collections/{COLLECTION}"));
    assert_eq!(status, 200, "{reply}");
    assert!(!server.collection_exists(COLLECTION));
    let checkpoint = rusqlite::Connection::open(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    checkpoint.execute("UPDATE items SET state = 0", []).expect("requeue");
    drop(checkpoint);

    let output = ws.imbed().args(["resume", "--json"]).output().expect("resume");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let params = &server.collection(COLLECTION)["config"]["params"];
    assert_eq!(params["shard_number"], 3, "{params}");
    assert_eq!((params["on_disk_payload"].as_bool(), params["vectors"]["on_disk"].as_bool()), (Some(true), Some(true)));
    assert_exactly_once(server, COLLECTION, &ws, &[]);
}

#[test]
fn a_black_hole_in_the_middle_of_a_run_is_timed_out_and_retried() {
    let Some(server) = real_qdrant::shared() else { return };
    const COLLECTION: &str = "blackhole-mid-run";
    let ws = Workspace::new();
    let proxy = TcpProxy::start(server.grpc_addr());
    proxy.set(Fault::Latency(Duration::from_millis(40)));
    let extra = ["--timeout", "1", "--max-retries", "8"];
    let mut child = spawn_index(&ws, &proxy.url(), COLLECTION, &extra);
    wait_for_points(server, COLLECTION, 2, &mut child);
    proxy.set(Fault::BlackHole);
    std::thread::sleep(Duration::from_millis(2500));
    proxy.set(Fault::None);
    proxy.reset_all();
    let output = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("timed out") && stderr.contains("retry 1 of 8"), "{stderr}");
    assert_exactly_once(server, COLLECTION, &ws, &[]);

    // stats reports a server that stopped answering, and goes on.
    proxy.set(Fault::BlackHole);
    proxy.reset_all();
    let summary = ws.stats_with(&["--timeout", "1", "--max-retries", "0"]);
    let error = summary["sink"]["collections"][0]["error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("timed out"), "{summary}");
    assert_eq!(summary["items"]["done"], fixture_image_count() as u64, "{summary}");
}

/// Without a server binary the tests skip with a line saying how to get one, and under CI=true
/// a skip fails: run one test of this binary again with `IMBED_TEST_QDRANT=none`.
#[test]
fn without_a_server_binary_a_test_skips_and_under_ci_it_fails() {
    if std::env::var_os("IMBED_TEST_QDRANT").is_some_and(|value| value == "none") {
        return;
    }
    let run = |ci: &str| {
        Command::new(std::env::current_exe().expect("this test binary"))
            .args(["--exact", "an_older_server_gets_one_readable_warning_and_the_run_goes_on", "--nocapture"])
            .env("IMBED_TEST_QDRANT", "none")
            // Its skip is this test's subject, not one for scripts/test to report.
            .env_remove("IMBED_TEST_SKIPS")
            .env("CI", ci)
            .output()
            .expect("run the test binary")
    };
    let skipped = run("false");
    let stderr = String::from_utf8_lossy(&skipped.stderr);
    assert!(skipped.status.success(), "{stderr}");
    assert!(
        stderr.contains("SKIPPED an_older_server") && stderr.contains("set IMBED_TEST_QDRANT to a `qdrant` binary"),
        "{stderr}"
    );
    let failed = run("true");
    let output = String::from_utf8_lossy(&failed.stdout) + String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success(), "{output}");
    assert!(output.contains("was skipped under CI=true"), "{output}");
}
