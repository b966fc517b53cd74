//! Remote sources against a real S3-compatible store (SeaweedFS on loopback): prefixes listed
//! like folders, presigned URLs, manifests that are objects, refusals before the model loads,
//! nightly runs, shards, kill -9 and resume, and a store restarted mid-run.

mod common;
#[path = "support/seaweedfs.rs"]
mod seaweedfs;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{fixture_images, stop_when, stored_payloads, tiny_model, Workspace};
use seaweedfs::SeaweedFs;
use serde_json::Value;
use tcp_proxy::{Fault, TcpProxy};

/// The fixture photos as (name, bytes), JPEG and PNG only.
fn photos() -> Vec<(String, Vec<u8>)> {
    let mut photos: Vec<(String, Vec<u8>)> = std::fs::read_dir(fixture_images())
        .expect("fixtures")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ["jpg", "png"].contains(&&*ext.to_string_lossy())))
        .map(|path| (path.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&path).unwrap()))
        .collect();
    photos.sort();
    photos
}

/// `count` objects under `prefix`, cycling through the fixture photos.
fn put_photos(server: &SeaweedFs, bucket: &str, prefix: &str, count: usize) -> Vec<String> {
    let photos = photos();
    let objects: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            let (name, bytes) = &photos[i % photos.len()];
            (format!("{prefix}{i:05}-{name}"), bytes.clone())
        })
        .collect();
    let keys = objects.iter().map(|(key, _)| key.clone()).collect();
    server.put_many(bucket, objects);
    keys
}

/// `imbed ARGS` in the workspace with the server's credentials.
fn imbed(ws: &Workspace, server: &SeaweedFs, args: &[&str]) -> assert_cmd::Command {
    let mut command = ws.imbed();
    server.env(&mut command);
    command.args(args);
    command
}

/// `imbed index SOURCE --s3-endpoint ENDPOINT --model TINY --json EXTRA`: summary and exit code.
fn index(ws: &Workspace, server: &SeaweedFs, endpoint: &str, source: &[&str], extra: &[&str]) -> (Value, i32) {
    let mut command = imbed(ws, server, &["index"]);
    command.args(source).args(["--s3-endpoint", endpoint, "--json", "--model"]).arg(tiny_model()).args(extra);
    let output = command.output().expect("run imbed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("no JSON summary; stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (summary, output.status.code().unwrap_or(-1))
}

fn stats(ws: &Workspace) -> Value {
    let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

/// Object GETs (not listings) that a proxy saw.
fn object_gets(proxy: &TcpProxy) -> Vec<String> {
    proxy.requests().into_iter().filter(|line| line.starts_with("GET ") && !line.contains("list-type")).collect()
}

#[test]
fn a_prefix_is_indexed_like_a_folder_with_object_keys_and_payloads() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "photos", "set/", 6);
    server.put("photos", "set/notes.txt", b"not an image");
    server.put("photos", "set/.hidden/x.jpg", &photos()[0].1);
    let ws = Workspace::new();
    let (summary, code) = index(&ws, server, &server.endpoint(), &["s3://photos/set/"], &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["items"]["done"], 6, "{summary}");
    let payloads = stored_payloads(&ws, "images");
    let mut uris: Vec<&str> = payloads.iter().map(|p| p["uri"].as_str().unwrap()).collect();
    uris.sort();
    let expected: Vec<String> = keys.iter().map(|key| format!("s3://photos/{key}")).collect();
    assert_eq!(uris, expected);
    for payload in &payloads {
        assert_eq!(payload["key"], payload["uri"]);
        assert!(payload["etag"].as_str().is_some_and(|etag| !etag.is_empty()), "{payload:?}");
        assert!(payload["size_bytes"].as_u64().unwrap() > 0 && payload["last_modified"].is_string(), "{payload:?}");
        assert!(payload["width"].as_u64().unwrap() > 0, "{payload:?}");
    }
    // Only the names of the credential variables are recorded, never their values.
    let checkpoint = std::fs::read(ws.path().join("imbed.checkpoint")).unwrap();
    let text = String::from_utf8_lossy(&checkpoint);
    assert!(!text.contains(seaweedfs::SECRET_KEY) && !text.contains(seaweedfs::ACCESS_KEY));
    assert!(text.contains("AWS_SECRET_ACCESS_KEY"), "the checkpoint records which variables were set");
}

#[test]
fn a_prefix_of_more_than_a_thousand_objects_is_listed_page_by_page() {
    let Some(server) = seaweedfs::shared() else { return };
    let tiny = photos().into_iter().find(|(name, _)| name.ends_with(".png")).unwrap().1;
    let objects: Vec<(String, Vec<u8>)> = (0..1100).map(|i| (format!("many/{i:05}.png"), tiny.clone())).collect();
    server.put_many("paging", objects);
    let proxy = TcpProxy::start(server.s3_addr());
    let ws = Workspace::new();
    let (summary, code) = index(&ws, server, &proxy.url(), &["s3://paging/many/"], &["--batch-size", "64"]);
    assert_eq!((code, summary["items"]["done"].as_u64()), (0, Some(1100)), "{summary}");
    let listings = proxy.requests().into_iter().filter(|line| line.contains("list-type=2")).count();
    assert!(listings >= 2, "1,100 objects take two pages of 1,000: {listings} listing requests");
    assert_eq!(common::points(&summary), 1100);
}

#[test]
fn an_unchanged_nightly_run_sends_no_get_and_a_changed_object_is_embedded_again() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "nightly", "n/", 8);
    let proxy = TcpProxy::start(server.s3_addr());
    let ws = Workspace::new();
    let (first, code) = index(&ws, server, &proxy.url(), &["s3://nightly/n/"], &["--delete-missing"]);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(8)), "{first}");
    assert_eq!(object_gets(&proxy).len(), 8);

    let before = proxy.requests().len();
    let (second, code) = index(&ws, server, &proxy.url(), &["s3://nightly/n/"], &["--delete-missing"]);
    assert_eq!(code, 0, "{second}");
    let since: Vec<String> = proxy.requests()[before..].to_vec();
    let gets: Vec<&String> =
        since.iter().filter(|line| line.starts_with("GET ") && !line.contains("list-type")).collect();
    assert!(gets.is_empty(), "an unchanged prefix downloads nothing: {gets:?}");
    assert!(since.iter().all(|line| !line.starts_with("HEAD ")), "the listing's ETags suffice: {since:?}");
    assert_eq!((second["run"]["unchanged"].as_u64(), second["run"]["done"].as_u64()), (Some(8), Some(0)), "{second}");

    // One object changes, one goes away.
    let other = photos().into_iter().rev().find(|(_, bytes)| bytes != &photos()[0].1).unwrap().1;
    server.put("nightly", &keys[0], &other);
    server.delete("nightly", &keys[1]);
    let before = proxy.requests().len();
    let (third, code) = index(&ws, server, &proxy.url(), &["s3://nightly/n/"], &["--delete-missing"]);
    assert_eq!(code, 0, "{third}");
    let gets: Vec<String> = proxy.requests()[before..]
        .iter()
        .filter(|line| line.starts_with("GET ") && !line.contains("list-type"))
        .cloned()
        .collect();
    assert_eq!(gets.len(), 1, "only the changed object is downloaded: {gets:?}");
    assert!(gets[0].contains(&keys[0]), "{gets:?}");
    assert_eq!((third["run"]["changed"].as_u64(), third["run"]["deleted"].as_u64()), (Some(1), Some(1)), "{third}");
    assert_eq!(common::points(&third), 7);
}

#[test]
fn presigned_urls_are_fetched_and_their_signature_is_no_part_of_the_item() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "signed", "p/", 4);
    let ws = Workspace::new();
    let write_manifest = |ws: &Workspace| {
        let mut manifest = std::fs::File::create(ws.path().join("urls.jsonl")).unwrap();
        for (i, key) in keys.iter().enumerate() {
            let line = serde_json::json!({"url": server.presign("signed", key), "caption": format!("photo {i}")});
            writeln!(manifest, "{line}").unwrap();
        }
    };
    write_manifest(&ws);
    let (first, code) = index(&ws, server, &server.endpoint(), &["--manifest", "urls.jsonl"], &[]);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(4)), "{first}");
    let payloads = stored_payloads(&ws, "images");
    for payload in &payloads {
        let url = payload["url"].as_str().unwrap();
        assert!(url.starts_with(&server.endpoint()) && !url.contains("X-Amz"), "{url}");
        assert_eq!(payload["key"], payload["url"]);
        assert!(payload["caption"].as_str().unwrap().starts_with("photo "));
    }
    // Signed again a second later: the same items, nothing new.
    std::thread::sleep(Duration::from_millis(1100));
    write_manifest(&ws);
    let (second, code) = index(&ws, server, &server.endpoint(), &["--manifest", "urls.jsonl"], &[]);
    assert_eq!(code, 0, "{second}");
    assert_eq!((second["run"]["unchanged"].as_u64(), common::points(&second)), (Some(4), 4), "{second}");
}

#[test]
fn a_manifest_that_is_an_object_names_objects_beside_it() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "manifests", "m/img/", 3);
    let lines = [
        serde_json::json!({"path": keys[0].trim_start_matches("m/"), "tag": "relative"}),
        serde_json::json!({"uri": format!("s3://manifests/{}", keys[1]), "tag": "uri"}),
        serde_json::json!({"id": "third", "path": format!("s3://manifests/{}", keys[2])}),
        serde_json::json!({"path": "img/missing.jpg"}),
    ];
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    server.put("manifests", "m/list.jsonl", text.as_bytes());
    let ws = Workspace::new();
    let (summary, code) = index(&ws, server, &server.endpoint(), &["--manifest", "s3://manifests/m/list.jsonl"], &[]);
    assert_eq!(code, 1, "one line names a missing object: {summary}");
    assert_eq!(
        (summary["items"]["done"].as_u64(), summary["items"]["failed"].as_u64()),
        (Some(3), Some(1)),
        "{summary}"
    );
    let stats = stats(&ws);
    assert_eq!(stats["errors"]["not_found"], 1, "{stats}");
    let mut keys_stored: Vec<String> =
        stored_payloads(&ws, "images").iter().map(|p| p["key"].as_str().unwrap().to_string()).collect();
    keys_stored.sort();
    assert_eq!(
        keys_stored,
        [format!("s3://manifests/{}", keys[0]), format!("s3://manifests/{}", keys[1]), "third".into()]
    );
}

#[test]
fn a_presigned_manifest_signed_again_is_the_same_manifest() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "manifests", "resigned/img/", 2);
    let text: String =
        keys.iter().map(|key| format!("{}\n", serde_json::json!({"url": server.presign("manifests", key)}))).collect();
    server.put("manifests", "resigned/list.jsonl", text.as_bytes());
    let ws = Workspace::new();
    let monday = server.presign("manifests", "resigned/list.jsonl");
    let (first, code) = index(&ws, server, &server.endpoint(), &["--manifest", &monday], &[]);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(2)), "{first}");
    // Signed again a second later, as a nightly job's upload API would hand it out.
    std::thread::sleep(Duration::from_millis(1100));
    let tuesday = server.presign("manifests", "resigned/list.jsonl");
    assert_ne!(monday, tuesday);
    let mut command = imbed(&ws, server, &["index", "--manifest", &tuesday, "--json", "--model"]);
    command.arg(tiny_model()).args(["--s3-endpoint", &server.endpoint()]);
    let output = command.output().expect("run imbed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "the same manifest, not another run: {stderr}");
    let second: Value = serde_json::from_slice(&output.stdout).expect("summary");
    assert_eq!(second["run"]["unchanged"].as_u64(), Some(2), "{second}");
    let old_signature = monday.split("X-Amz-Signature=").nth(1).expect("a signature");
    assert!(!stderr.contains(old_signature) && !stderr.contains("X-Amz-"), "{stderr}");
    // The checkpoint now holds the new signature: a resume fetches with it, not the expired one.
    let record = std::fs::read(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    let wal = std::fs::read(ws.path().join("imbed.checkpoint-wal")).unwrap_or_default();
    let new_signature = tuesday.split("X-Amz-Signature=").nth(1).expect("a signature");
    let holds = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|window| window == text.as_bytes());
    assert!(holds(&record, new_signature) || holds(&wal, new_signature), "the run records the new manifest URL");
}

/// A refusal: exit 2, one line on stderr that contains `expected`, before the model loads
/// (the model given does not exist), within `bound`.
fn assert_refused(mut command: assert_cmd::Command, expected: &str, bound: Duration) {
    let started = Instant::now();
    let output = command.output().expect("run imbed");
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(expected), "{expected:?} in {stderr}");
    assert!(!stderr.contains("model"), "refused before the model: {stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(elapsed < bound, "took {elapsed:?}");
    assert!(!stderr.contains(seaweedfs::SECRET_KEY), "{stderr}");
}

#[test]
fn a_missing_bucket_refused_credentials_or_no_endpoint_stop_the_run_before_the_model_loads() {
    let Some(server) = seaweedfs::shared() else { return };
    let ws = Workspace::new();
    let args = |source: &str, endpoint: &str| {
        let mut command = imbed(&ws, server, &["index", source, "--model", "no/such/model", "--s3-endpoint", endpoint]);
        command.args(["--max-attempts", "1"]);
        command
    };
    assert_refused(
        args("s3://no-such-bucket/x/", &server.endpoint()),
        "bucket `no-such-bucket` does not exist",
        Duration::from_secs(20),
    );

    let mut wrong = args("s3://photos/", &server.endpoint());
    wrong.env("AWS_SECRET_ACCESS_KEY", "not-the-secret");
    assert_refused(wrong, "refused the credentials", Duration::from_secs(20));

    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = args("s3://photos/", &format!("http://127.0.0.1:{closed}"));
    assert_refused(unreachable, "cannot reach", Duration::from_secs(20));
}

#[test]
fn without_credentials_the_metadata_probe_is_bounded_and_says_what_to_set() {
    let Some(server) = seaweedfs::shared() else { return };
    // A "metadata service" on loopback that accepts and never answers: the probe must not hang.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let metadata = format!("http://{}", silent.local_addr().unwrap());
    let ws = Workspace::new();
    let mut command = ws.imbed();
    command
        .args(["index", "s3://photos/", "--model", "no/such/model", "--s3-endpoint", &server.endpoint()])
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_WEB_IDENTITY_TOKEN_FILE")
        .env_remove("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI")
        .env("AWS_METADATA_ENDPOINT", &metadata)
        .env("AWS_REGION", seaweedfs::REGION);
    assert_refused(command, "AWS_ACCESS_KEY_ID", Duration::from_secs(6));
    drop(silent);
}

#[test]
fn shards_split_a_bucket_without_a_shared_volume() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "shards", "s/", 30);
    let mut taken = Vec::new();
    for shard_index in 0..3 {
        let ws = Workspace::new();
        let shard = format!("{shard_index}/3");
        let (summary, code) = index(&ws, server, &server.endpoint(), &["s3://shards/s/"], &["--shard", &shard]);
        assert_eq!(code, 0, "{summary}");
        taken.extend(stored_payloads(&ws, "images").iter().map(|p| p["key"].as_str().unwrap().to_string()));
    }
    taken.sort();
    let expected: Vec<String> = keys.iter().map(|key| format!("s3://shards/{key}")).collect();
    assert_eq!(taken, expected, "every object in exactly one shard");
}

/// Spawns `imbed index` in the background with the server's credentials.
fn spawn_index(
    ws: &Workspace,
    server: &SeaweedFs,
    endpoint: &str,
    source: &str,
    extra: &[&str],
) -> std::process::Child {
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("imbed"));
    command
        .current_dir(ws.path())
        .env("ORT_DYLIB_PATH", common::ort_library())
        .env("AWS_ACCESS_KEY_ID", seaweedfs::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", seaweedfs::SECRET_KEY)
        .env("AWS_REGION", seaweedfs::REGION)
        .env("AWS_METADATA_ENDPOINT", "http://127.0.0.1:9")
        .env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"))
        .args(["index", source, "--s3-endpoint", endpoint, "--model"])
        .arg(tiny_model())
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let _ = server;
    command.spawn().expect("spawn imbed")
}

/// How many times each key was embedded, from the IMBED_DEBUG_EMBED_LOG the runs appended to.
fn embed_calls(ws: &Workspace) -> std::collections::BTreeMap<String, usize> {
    let log = std::fs::read_to_string(ws.path().join("embedded.log")).unwrap_or_default();
    let mut calls = std::collections::BTreeMap::new();
    for key in log.lines().filter(|line| !line.is_empty()) {
        *calls.entry(key.to_string()).or_insert(0) += 1;
    }
    calls
}

/// Waits until `stats` shows at least `done` items done (or `limit` passes).
fn wait_for_done(ws: &Workspace, done: u64, limit: Duration) {
    let started = Instant::now();
    while started.elapsed() < limit {
        // The checkpoint may not be set up yet: no JSON then.
        let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
        let stats: Option<Value> = serde_json::from_slice(&output.stdout).ok();
        if stats.is_some_and(|stats| stats["items"]["done"].as_u64().unwrap_or(0) >= done) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("not {done} items done within {limit:?}");
}

fn resume(ws: &Workspace, server: &SeaweedFs, extra: &[&str]) -> (Value, i32) {
    let mut command = imbed(ws, server, &["resume", "--json"]);
    command.args(extra).env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"));
    let output = command.output().expect("resume");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.trim())
        .unwrap_or_else(|_| panic!("stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr)));
    (summary, output.status.code().unwrap_or(-1))
}

#[test]
fn kill_9_during_downloads_then_resume_stores_every_object_once_and_lists_on_from_where_it_was() {
    let Some(server) = seaweedfs::shared() else { return };
    let keys = put_photos(server, "photos", "kill/", 1200);
    let proxy = TcpProxy::start(server.s3_addr());
    // Slow downloads, so that the kill lands while many are in flight.
    proxy.set(Fault::Latency(Duration::from_millis(5)));
    let ws = Workspace::new();
    let mut child = spawn_index(&ws, server, &proxy.url(), "s3://photos/kill/", &["--batch-size", "16"]);
    // Killed once the listing has recorded how far it got (after its first chunk of 512), and
    // before it has listed to the end: downloads are in flight then.
    let position_now = || -> Option<String> {
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
        let connection = rusqlite::Connection::open_with_flags(ws.path().join("imbed.checkpoint"), flags).ok()?;
        let key = "listing_position:s3://photos/kill/";
        connection.query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| row.get(0)).ok()
    };
    stop_when(&mut child, "a listing position recorded", || position_now().is_some_and(|p| !p.is_empty()));
    child.kill().expect("SIGKILL");
    child.wait().unwrap();
    let position = position_now().unwrap_or_default();
    assert!(position.starts_with("kill/"), "a listing position is recorded: {position:?}");
    proxy.set(Fault::None);
    let before = proxy.requests().len();
    let (summary, code) = resume(&ws, server, &[]);
    assert_eq!(code, 0, "{summary}");
    let listings: Vec<String> =
        proxy.requests()[before..].iter().filter(|line| line.contains("list-type=2")).cloned().collect();
    // One page read from the start: the check that the bucket can be read, before the model.
    let from_start = listings.iter().filter(|line| !line.contains("start-after=")).count();
    let expected = format!("start-after={}", position.replace('/', "%2F"));
    assert!(
        from_start == 1 && listings.iter().any(|line| line.contains(&expected)),
        "the resumed listing starts after the recorded key {position}: {listings:?}"
    );
    let stats = stats(&ws);
    assert_eq!(stats["items"]["done"], keys.len() as u64, "{stats}");
    assert_eq!(common::points(&summary), keys.len() as u64, "{summary}");
    // Stored once: every object embedded, and again only if the kill caught it between the
    // model and the checkpoint (a few batches of 16 in flight), never a whole second time.
    let calls = embed_calls(&ws);
    let expected: Vec<String> = keys.iter().map(|key| format!("s3://photos/{key}")).collect();
    assert!(expected.iter().all(|key| calls.contains_key(key)), "every object embedded");
    let again: usize = calls.values().map(|n| n - 1).sum();
    assert!(again <= 6 * 16, "{again} objects embedded twice: only those in flight at the kill may be");
}

#[test]
fn a_store_restarted_mid_run_ends_with_every_object_stored_once() {
    let Some(mut server) = seaweedfs::start(&["restart"]) else { return };
    let keys = put_photos(&server, "restart", "r/", 60);
    let proxy = TcpProxy::start(server.s3_addr());
    // Slow downloads, few at once: the downloads pace the run, so the restart meets them.
    proxy.set(Fault::Latency(Duration::from_millis(100)));
    let ws = Workspace::new();
    let flags = ["--batch-size", "4", "--max-attempts", "10", "--fetch-concurrency", "4"];
    let mut child = spawn_index(&ws, &server, &proxy.url(), "s3://restart/r/", &flags);
    wait_for_done(&ws, 8, Duration::from_secs(60));
    server.restart();
    proxy.set(Fault::None);
    let status = child.wait().expect("imbed ends");
    // A store that takes longer to come back than the tries last (it answers 500 while it
    // starts) leaves transient failures, which retry-failed takes; nothing else may fail.
    let after_run = stats(&ws);
    let failed = after_run["items"]["failed"].as_u64().unwrap_or(0);
    assert!(failed <= 5, "the tries carry the run through the restart: {after_run}");
    if failed > 0 {
        let classes: Vec<&String> = after_run["errors"].as_object().unwrap().keys().collect();
        assert!(classes.iter().all(|class| ["remote", "network", "timeout"].contains(&class.as_str())), "{after_run}");
        let mut retry = imbed(&ws, &server, &["retry-failed", "--max-attempts", "10"]);
        retry.env("IMBED_DEBUG_EMBED_LOG", ws.path().join("embedded.log"));
        assert!(retry.output().unwrap().status.success(), "retry-failed after the restart");
    }
    let stats = stats(&ws);
    assert_eq!(stats["items"]["done"], keys.len() as u64, "exit {status}; {stats}");
    let points = stored_payloads(&ws, "images").len();
    assert_eq!(points, keys.len());
    // Stored once: no process was killed, so each object went through the model exactly once.
    let calls = embed_calls(&ws);
    let twice: Vec<&String> = calls.iter().filter(|(_, &n)| n != 1).map(|(key, _)| key).collect();
    assert!(
        calls.len() == keys.len() && twice.is_empty(),
        "embedded other than once: {twice:?} ({} keys)",
        calls.len()
    );
}
