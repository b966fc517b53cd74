//! Signed URLs of each store's kind (S3 presigned, GCS V4, Azure SAS): fetched as given, keyed
//! and shown without their signatures, and the same items when signed again.

use std::io::Write;
use std::time::Duration;

use crate::common::{self, stored_payloads, tiny_model, Workspace};
use crate::object_stores::{base, TestStore};
use crate::{imbed, index_direct, put_photos};

pub fn signed_urls(store: &dyn TestStore) {
    let keys = put_photos(store, "signed", &format!("{}/", store.scheme()), 4);
    let ws = Workspace::new();
    let write_manifest = |ws: &Workspace| {
        let mut manifest = std::fs::File::create(ws.path().join("urls.jsonl")).unwrap();
        for (i, key) in keys.iter().enumerate() {
            let line = serde_json::json!({"url": store.sign("signed", key), "caption": format!("photo {i}")});
            writeln!(manifest, "{line}").unwrap();
        }
    };
    write_manifest(&ws);
    let signature = store.signature_parameter();
    let signed = std::fs::read_to_string(ws.path().join("urls.jsonl")).unwrap();
    assert!(signed.contains(signature), "the URLs are signed: {signed}");
    let (first, code) = index_direct(&ws, store, &["--manifest", "urls.jsonl"], &[]);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(4)), "{first}");
    let payloads = stored_payloads(&ws, "images");
    for payload in &payloads {
        let url = payload["url"].as_str().unwrap();
        assert!(url.starts_with(&base(store.addr())) && !url.contains('?'), "{url}");
        assert_eq!(payload["key"], payload["url"]);
        assert!(payload["caption"].as_str().unwrap().starts_with("photo "));
    }
    // Signed again a second later: the same items, nothing new.
    std::thread::sleep(Duration::from_millis(1100));
    write_manifest(&ws);
    assert_ne!(std::fs::read_to_string(ws.path().join("urls.jsonl")).unwrap(), signed);
    let (second, code) = index_direct(&ws, store, &["--manifest", "urls.jsonl"], &[]);
    assert_eq!(code, 0, "{second}");
    let resigned = std::fs::read_to_string(ws.path().join("urls.jsonl")).unwrap();
    let counts = (second["run"]["unchanged"].as_u64(), common::points(&second));
    assert_eq!(counts, (Some(4), 4), "{second}\nsigned:\n{signed}\nsigned again:\n{resigned}");
}

pub fn resigned_manifest(store: &dyn TestStore) {
    let keys = put_photos(store, "manifests", "resigned/img/", 2);
    let text: String =
        keys.iter().map(|key| format!("{}\n", serde_json::json!({"url": store.sign("manifests", key)}))).collect();
    store.put("manifests", "resigned/list.jsonl", text.as_bytes());
    let ws = Workspace::new();
    let monday = store.sign("manifests", "resigned/list.jsonl");
    let (first, code) = index_direct(&ws, store, &["--manifest", &monday], &[]);
    assert_eq!((code, first["items"]["done"].as_u64()), (0, Some(2)), "{first}");
    // Signed again a second later, as a nightly job's upload API would hand it out.
    std::thread::sleep(Duration::from_millis(1100));
    let tuesday = store.sign("manifests", "resigned/list.jsonl");
    assert_ne!(monday, tuesday);
    let mut command = imbed(&ws, store, &["index", "--manifest", &tuesday, "--json", "--model"]);
    command.arg(tiny_model()).args(store.endpoint_args(&base(store.addr())));
    let output = command.output().expect("run imbed");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(0), "the same manifest, not another run: {stderr}");
    let second: serde_json::Value = serde_json::from_slice(&output.stdout).expect("summary");
    assert_eq!(second["run"]["unchanged"].as_u64(), Some(2), "{second}");
    let signature_of = |url: &str| {
        let value = url.split(store.signature_parameter()).nth(1).expect("a signature");
        value.split('&').next().unwrap_or_default().to_string()
    };
    assert!(!stderr.contains(&signature_of(&monday)) && !stderr.contains(store.signature_parameter()), "{stderr}");
    // The checkpoint now holds the new signature: a resume fetches with it, not the expired one.
    let record = std::fs::read(ws.path().join("imbed.checkpoint")).expect("checkpoint");
    let wal = std::fs::read(ws.path().join("imbed.checkpoint-wal")).unwrap_or_default();
    let new_signature = signature_of(&tuesday);
    let holds = |bytes: &[u8], text: &str| bytes.windows(text.len()).any(|window| window == text.as_bytes());
    assert!(holds(&record, &new_signature) || holds(&wal, &new_signature), "the run records the new manifest URL");
}
