//! Prefixes listed like folders: keys and payloads, paging, nightly runs, manifests that are
//! objects, shards.

use crate::common::{self, stored_payloads, Workspace};
use crate::object_stores::{base, TestStore};
use crate::tcp_proxy::TcpProxy;
use crate::{index, index_direct, object_gets, photos, put_photos, stats, tiny_photo, uri};

pub fn prefix_like_a_folder(store: &dyn TestStore) {
    let keys = put_photos(store, "photos", "set/", 6);
    store.put("photos", "set/notes.txt", b"not an image");
    store.put("photos", "set/.hidden/x.jpg", &photos()[0].1);
    let ws = Workspace::new();
    let (summary, code) = index_direct(&ws, store, &[&uri(store, "photos", "set/")], &[]);
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary["items"]["done"], 6, "{summary}");
    let payloads = stored_payloads(&ws, "images");
    let mut uris: Vec<&str> = payloads.iter().map(|p| p["uri"].as_str().unwrap()).collect();
    uris.sort();
    let expected: Vec<String> = keys.iter().map(|key| uri(store, "photos", key)).collect();
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
    for (name, value) in store.vars().into_iter().filter_map(|(name, value)| Some((name, value?))) {
        if name.contains("KEY") || name.contains("SECRET") {
            assert!(!text.contains(&value), "the value of {name} is in the checkpoint");
            assert!(text.contains(name), "the checkpoint records that {name} was set");
        }
    }
}

pub fn paging(store: &dyn TestStore) {
    let count = store.page_size() + 100;
    let objects: Vec<(String, Vec<u8>)> = (0..count).map(|i| (format!("many/{i:05}.png"), tiny_photo())).collect();
    store.put_many("paging", objects);
    let proxy = TcpProxy::start(store.addr());
    let ws = Workspace::new();
    let (summary, code) = index(&ws, store, &proxy.url(), &[&uri(store, "paging", "many/")], &["--batch-size", "64"]);
    assert_eq!((code, summary["items"]["done"].as_u64()), (0, Some(count as u64)), "{summary}");
    let pages = crate::listings(store, &proxy).len();
    assert!(pages >= 2, "{count} objects take two pages of {}: {pages} listing requests", store.page_size());
    assert_eq!(common::points(&summary), count as u64);
}

pub fn nightly(store: &dyn TestStore) {
    let keys = put_photos(store, "nightly", "n/", 8);
    let proxy = TcpProxy::start(store.addr());
    let ws = Workspace::new();
    let source = uri(store, "nightly", "n/");
    let run = |ws: &Workspace| index(ws, store, &proxy.url(), &[&source], &["--delete-missing"]);
    let (first, code) = run(&ws);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(8)), "{first}");
    assert_eq!(object_gets(store, &proxy.requests()).len(), 8);

    let before = proxy.requests().len();
    let (second, code) = run(&ws);
    assert_eq!(code, 0, "{second}");
    let since: Vec<String> = proxy.requests()[before..].to_vec();
    let gets = object_gets(store, &since);
    assert!(gets.is_empty(), "an unchanged prefix downloads nothing: {gets:?}");
    assert!(since.iter().all(|line| !line.starts_with("HEAD ")), "the listing's ETags suffice: {since:?}");
    assert_eq!((second["run"]["unchanged"].as_u64(), second["run"]["done"].as_u64()), (Some(8), Some(0)), "{second}");

    // One object changes, one goes away.
    let other = photos().into_iter().rev().find(|(_, bytes)| bytes != &photos()[0].1).unwrap().1;
    store.put("nightly", &keys[0], &other);
    store.delete("nightly", &keys[1]);
    let before = proxy.requests().len();
    let (third, code) = run(&ws);
    assert_eq!(code, 0, "{third}");
    let gets = object_gets(store, &proxy.requests()[before..]);
    assert_eq!(gets.len(), 1, "only the changed object is downloaded: {gets:?}");
    assert!(gets[0].contains(&keys[0]), "{gets:?}");
    assert_eq!((third["run"]["changed"].as_u64(), third["run"]["deleted"].as_u64()), (Some(1), Some(1)), "{third}");
    assert_eq!(common::points(&third), 7);
}

pub fn manifest_object(store: &dyn TestStore) {
    let keys = put_photos(store, "manifests", "m/img/", 3);
    let lines = [
        serde_json::json!({"path": keys[0].trim_start_matches("m/"), "tag": "relative"}),
        serde_json::json!({"uri": uri(store, "manifests", &keys[1]), "tag": "uri"}),
        serde_json::json!({"id": "third", "path": uri(store, "manifests", &keys[2])}),
        serde_json::json!({"path": "img/missing.jpg"}),
    ];
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    store.put("manifests", "m/list.jsonl", text.as_bytes());
    let ws = Workspace::new();
    let (summary, code) = index_direct(&ws, store, &["--manifest", &uri(store, "manifests", "m/list.jsonl")], &[]);
    assert_eq!(code, 1, "one line names a missing object: {summary}");
    let counts = (summary["items"]["done"].as_u64(), summary["items"]["failed"].as_u64());
    assert_eq!(counts, (Some(3), Some(1)), "{summary}");
    let stats = stats(&ws);
    assert_eq!(stats["errors"]["not_found"], 1, "{stats}");
    let mut keys_stored: Vec<String> =
        stored_payloads(&ws, "images").iter().map(|p| p["key"].as_str().unwrap().to_string()).collect();
    keys_stored.sort();
    let expected = [uri(store, "manifests", &keys[0]), uri(store, "manifests", &keys[1]), "third".into()];
    assert_eq!(keys_stored, expected);
}

pub fn shards(store: &dyn TestStore) {
    let keys = put_photos(store, "shards", "s/", 30);
    let mut taken = Vec::new();
    for shard_index in 0..3 {
        let ws = Workspace::new();
        let shard = format!("{shard_index}/3");
        let (summary, code) =
            index(&ws, store, &base(store.addr()), &[&uri(store, "shards", "s/")], &["--shard", &shard]);
        assert_eq!(code, 0, "{summary}");
        taken.extend(stored_payloads(&ws, "images").iter().map(|p| p["key"].as_str().unwrap().to_string()));
    }
    taken.sort();
    let expected: Vec<String> = keys.iter().map(|key| uri(store, "shards", key)).collect();
    assert_eq!(taken, expected, "every object in exactly one shard");
}
