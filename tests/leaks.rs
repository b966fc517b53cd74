//! No secret leaves the process (issue 21). Distinctive canary strings are planted in every
//! place a user puts a secret: real presigned S3 URLs signed for SeaweedFS, userinfo, GCS V4
//! and Azure SAS signatures, CloudFront's signed-URL parameters, a CDN token named by
//! `--ignore-query-param`, the AWS secret key, and the Qdrant API key of a real Qdrant. Every
//! command runs at `-vv` over successes, 404s, time-outs, duplicate ids and a Qdrant failure;
//! then every output and every file under the store and the workspace (the checkpoint aside,
//! which must hold the signed URLs to resume) is searched for them. The checkpoint's files
//! must be readable by their owner alone, whatever the umask.

mod common;
#[path = "support/emulator.rs"]
mod emulator;
#[path = "support/fault_http.rs"]
mod fault_http;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;
#[path = "support/seaweedfs.rs"]
mod seaweedfs;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use common::{fixture_images, tiny_model, Workspace};
use fault_http::{silent_host, FaultServer};

const PASSWORD: &str = "canaryPassw0rdXq";
const GCS_SIGNATURE: &str = "canaryGoogSig0a1b";
const GCS_CREDENTIAL: &str = "canaryGoogCred7";
const AZURE_SIGNATURE: &str = "canaryAzureSigZ9";
const CLOUDFRONT_SIGNATURE: &str = "canaryCfSigK3";
const CLOUDFRONT_POLICY: &str = "canaryCfPolicyW2";
const CLOUDFRONT_KEY_PAIR: &str = "canaryCfKeyPair8";
const CDN_TOKEN: &str = "canaryCdnTokenV5";
const QDRANT_API_KEY: &str = "canaryQdrantKey-4f1e9";

/// Every output of every command, with what produced it.
#[derive(Default)]
struct Seen {
    outputs: Vec<(String, String)>,
}

impl Seen {
    fn run(&mut self, what: &str, mut command: assert_cmd::Command) -> std::process::Output {
        let started = std::time::Instant::now();
        let output = command.output().expect("run imbed");
        eprintln!("{what}: {:?}, {}", started.elapsed(), output.status);
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        self.outputs.push((what.to_string(), text));
        output
    }
}

/// The secret parts of a presigned S3 URL: its signature and credential values.
fn s3_secrets(url: &str) -> Vec<String> {
    let query = url.split_once('?').map(|(_, query)| query).unwrap_or_default();
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| ["X-Amz-Signature", "X-Amz-Credential"].contains(name))
        .map(|(_, value)| value.to_string())
        .collect()
}

/// The files under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|entry| entry.file_type().is_file())
        .map(|entry| entry.into_path())
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle.as_bytes())
}

#[test]
fn no_secret_reaches_any_output_payload_or_file_and_the_checkpoint_is_private() {
    let Some(s3) = seaweedfs::shared() else { return };
    let Some(qdrant) = real_qdrant::start(Some(QDRANT_API_KEY)) else { return };
    // Files imbed creates must be private whatever the umask, so the widest one is set.
    // SAFETY: umask only swaps the process's file-mode mask; this binary runs this one test.
    unsafe { libc::umask(0) };

    let image = std::fs::read(fixture_images().join("checker.webp")).expect("fixture");
    let http = FaultServer::start(image);
    let (_silent, silent_url) = silent_host();
    s3.put("signed", "leaks/present.jpg", &std::fs::read(fixture_images().join("landscape_gradient.jpg")).unwrap());
    let signed_ok = s3.presign("signed", "leaks/present.jpg");
    let signed_missing = s3.presign("signed", "leaks/missing.jpg");
    let mut secrets: Vec<String> = [PASSWORD, GCS_SIGNATURE, GCS_CREDENTIAL, AZURE_SIGNATURE, CLOUDFRONT_SIGNATURE]
        .into_iter()
        .chain([CLOUDFRONT_POLICY, CLOUDFRONT_KEY_PAIR, CDN_TOKEN, QDRANT_API_KEY, seaweedfs::SECRET_KEY])
        .map(str::to_string)
        .collect();
    secrets.extend(s3_secrets(&signed_ok));
    secrets.extend(s3_secrets(&signed_missing));
    assert!(secrets.len() >= 14, "both presigned URLs carry a signature and a credential: {signed_ok}");

    let with_userinfo = |url: String| url.replacen("http://", &format!("http://canaryuser:{PASSWORD}@"), 1);
    let gcs = format!(
        "X-Goog-Algorithm=GOOG4-RSA-SHA256&X-Goog-Credential={GCS_CREDENTIAL}&X-Goog-Signature={GCS_SIGNATURE}"
    );
    let azure = format!("sv=2024-08-04&sp=r&se=2030-01-01T00%3A00%3A00Z&sr=b&sig={AZURE_SIGNATURE}");
    let cloudfront =
        format!("Policy={CLOUDFRONT_POLICY}&Signature={CLOUDFRONT_SIGNATURE}&Key-Pair-Id={CLOUDFRONT_KEY_PAIR}");
    let lines = [
        // Successes, each signed or authorised its own way.
        serde_json::json!({"url": signed_ok, "caption": "s3"}),
        serde_json::json!({"url": with_userinfo(http.url("ok/basic.jpg"))}),
        serde_json::json!({"url": format!("{}?{gcs}", http.url("ok/gcs.jpg"))}),
        serde_json::json!({"url": format!("{}?{azure}", http.url("ok/azure.jpg"))}),
        serde_json::json!({"url": format!("{}?{cloudfront}&w=640", http.url("ok/cloudfront.jpg"))}),
        serde_json::json!({"url": format!("{}?token={CDN_TOKEN}&id=7", http.url("ok/cdn.jpg"))}),
        // Failures, where a message names the item: a 404 from S3 and from a server, a 403,
        // a stall, and two lines sharing one id.
        serde_json::json!({"url": signed_missing}),
        serde_json::json!({"url": format!("{}?{gcs}", with_userinfo(http.url("status/404")))}),
        serde_json::json!({"url": format!("{}?{azure}", http.url("status/403"))}),
        serde_json::json!({"url": format!("{}stalled.jpg?{cloudfront}", with_userinfo(silent_url.clone()))}),
        serde_json::json!({"id": "twice", "url": format!("{}?token={CDN_TOKEN}", http.url("ok/first.jpg"))}),
        serde_json::json!({"id": "twice", "url": format!("{}?{gcs}", with_userinfo(http.url("ok/second.jpg")))}),
    ];
    let ws = Workspace::new();
    let mut manifest = std::fs::File::create(ws.path().join("urls.jsonl")).expect("manifest");
    for line in &lines {
        writeln!(manifest, "{line}").expect("write manifest");
    }
    drop(manifest);

    let imbed = |args: &[&str]| {
        let mut command = ws.imbed();
        s3.env(&mut command);
        command.arg("-vv").args(args);
        command
    };
    let fetch_flags = ["--ignore-query-param", "token", "--stall-timeout", "1", "--max-attempts", "2"];
    let mut seen = Seen::default();

    let output = seen.run("index", {
        // A prefix too, so that object_store's signed requests run at -vv beside the URLs.
        let mut command = imbed(&["index", "s3://signed/leaks/", "--manifest", "urls.jsonl", "--json", "--model"]);
        command.arg(tiny_model()).args(fetch_flags).args(["--s3-endpoint", &s3.endpoint()]);
        command
    });
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).expect("index summary");
    // The listed object, and 12 lines: 7 stored (s3, basic, gcs, azure, cloudfront, cdn, the
    // first "twice"), 5 failed.
    assert_eq!(summary["items"]["done"].as_u64(), Some(8), "{summary}");
    assert_eq!(summary["items"]["failed"].as_u64(), Some(5), "{summary}");
    let retry_flags = ["--stall-timeout", "1", "--max-attempts", "2"];
    seen.run("resume", imbed(&["resume"].iter().chain(&retry_flags).copied().collect::<Vec<_>>()));
    seen.run("retry-failed", imbed(&["retry-failed"].iter().chain(&retry_flags).copied().collect::<Vec<_>>()));
    seen.run("stats", imbed(&["stats"]));
    seen.run("stats --json", imbed(&["stats", "--json"]));
    let query = fixture_images().join("checker.webp");
    let query = query.to_str().expect("UTF-8 path");
    let output = seen.run("search --json", imbed(&["search", query, "--json", "--top", "20"]));
    assert!(String::from_utf8_lossy(&output.stdout).contains("/ok/cdn.jpg?id=7"), "the kept parameter stays");
    seen.run("embed", {
        let mut command = imbed(&["embed", query, "--model"]);
        command.arg(tiny_model());
        command
    });
    seen.run("doctor", imbed(&["doctor", "--qdrant", &qdrant.url(), "--api-key", QDRANT_API_KEY]));
    let output = seen.run("push", imbed(&["push", "--qdrant", &qdrant.url(), "--api-key", QDRANT_API_KEY]));
    assert!(output.status.success(), "push: {}", String::from_utf8_lossy(&output.stderr));
    // A Qdrant failure: the key refused, and a server that is not there.
    let wrong_key = format!("{QDRANT_API_KEY}-wrong");
    let output = seen.run("push, key refused", {
        let mut command =
            imbed(&["push", "--qdrant", &qdrant.url(), "--to-collection", "other", "--checkpoint", "other.push"]);
        command.env("IMBED_QDRANT_API_KEY", &wrong_key);
        command
    });
    assert!(!output.status.success(), "a wrong key is refused");
    seen.run("doctor, no server", imbed(&["doctor", "--qdrant", "http://127.0.0.1:9", "--api-key", QDRANT_API_KEY]));

    let mut leaks = Vec::new();
    for (what, text) in &seen.outputs {
        for secret in secrets.iter().chain([&wrong_key]) {
            if text.contains(secret.as_str()) {
                leaks.push(format!("`{what}` printed {secret}"));
            }
        }
    }
    let checkpoint_files: Vec<PathBuf> = ["", "-wal", "-shm", ".lock"]
        .iter()
        .map(|suffix| ws.path().join(format!("imbed.checkpoint{suffix}")))
        .collect();
    let searched = files_under(ws.path());
    // The manifest is the user's own file; the checkpoints are the one place signed URLs belong.
    let manifest = ws.path().join("urls.jsonl");
    for file in searched.iter().filter(|file| !checkpoint_files.contains(file) && **file != manifest) {
        let bytes = std::fs::read(file).unwrap_or_default();
        for secret in &secrets {
            if contains(&bytes, secret) {
                leaks.push(format!("{} holds {secret}", file.display()));
            }
        }
    }
    assert!(searched.iter().any(|file| file.starts_with(ws.path().join("imbed-store"))), "the store was searched");
    assert!(leaks.is_empty(), "secrets left the process:\n{}", leaks.join("\n"));

    // The checkpoint holds the signed URLs (a resume needs them), so only its owner reads it.
    let checkpoint = std::fs::read(&checkpoint_files[0]).expect("checkpoint");
    let wal = std::fs::read(&checkpoint_files[1]).unwrap_or_default();
    assert!(contains(&[checkpoint, wal].concat(), &s3_secrets(&signed_ok)[0]), "the checkpoint keeps the signed URL");
    for file in checkpoint_files.iter().filter(|file| file.exists()) {
        let mode = std::fs::metadata(file).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", file.display());
    }
}

#[test]
fn doctor_warns_of_a_checkpoint_others_can_read_and_the_next_run_makes_it_private() {
    let ws = Workspace::new();
    let checkpoint = ws.path().join("imbed.checkpoint");
    let images = ws.path().join("images");
    std::fs::create_dir(&images).expect("folder");
    std::fs::copy(fixture_images().join("checker.webp"), images.join("a.webp")).expect("copy");
    ws.imbed().args(["index", "images", "--quiet", "--model"]).arg(tiny_model()).assert().success();
    // As an older imbed left it: world-readable.
    std::fs::set_permissions(&checkpoint, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let output = ws.imbed().arg("doctor").output().expect("doctor");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("imbed.checkpoint can be read by other users") && stderr.contains("chmod 600"), "{stderr}");
    ws.imbed().args(["index", "images", "--quiet", "--model"]).arg(tiny_model()).assert().success();
    let mode = std::fs::metadata(&checkpoint).expect("metadata").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the run made it private");
    let output = ws.imbed().arg("doctor").output().expect("doctor");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("readable by its owner only"), "{text}");
}
