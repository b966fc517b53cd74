//! Remote sources against real stores on loopback, one suite for each: S3 (SeaweedFS), GCS
//! (fake-gcs-server) and Azure (Azurite). Prefixes listed like folders, paging, signed URLs
//! of each store's kind, manifests that are objects, refusals before the model loads, nightly
//! runs, shards, kill -9 and resume, and a store restarted mid-run.
//!
//! `cargo test --test remote gcs::` runs one store's suite.

#[path = "support/azurite.rs"]
mod azurite;
mod common;
#[path = "support/emulator.rs"]
mod emulator;
#[path = "support/fake_gcs.rs"]
mod fake_gcs;
#[path = "support/object_stores.rs"]
mod object_stores;
#[path = "support/seaweedfs.rs"]
mod seaweedfs;
#[path = "support/tcp_proxy.rs"]
mod tcp_proxy;

mod remote {
    pub mod faults;
    pub mod listing;
    pub mod refusals;
    pub mod signed;
    pub mod variables;
}

use common::{fixture_images, tiny_model, Workspace};
use object_stores::{base, TestStore};
use serde_json::Value;
use tcp_proxy::TcpProxy;

/// Each test of the suite, once per store: `s3::NAME`, `gcs::NAME`, `azure::NAME`.
macro_rules! suite {
    ($store:ident, $launcher:ident) => {
        mod $store {
            use crate::remote::{faults, listing, refusals, signed};

            macro_rules! shared {
                ($name:ident, $body:path) => {
                    #[test]
                    fn $name() {
                        if let Some(server) = crate::$launcher::shared() {
                            $body(server);
                        }
                    }
                };
            }
            shared!(a_prefix_is_indexed_like_a_folder_with_object_keys_and_payloads, listing::prefix_like_a_folder);
            shared!(a_prefix_of_more_than_a_page_of_objects_is_listed_page_by_page, listing::paging);
            shared!(an_unchanged_nightly_run_sends_no_get_and_a_changed_object_is_embedded_again, listing::nightly);
            shared!(a_manifest_that_is_an_object_names_objects_beside_it, listing::manifest_object);
            shared!(shards_split_a_bucket_without_a_shared_volume, listing::shards);
            shared!(signed_urls_are_fetched_and_their_signature_is_no_part_of_the_item, signed::signed_urls);
            shared!(a_signed_manifest_signed_again_is_the_same_manifest, signed::resigned_manifest);
            shared!(a_missing_bucket_or_refused_credentials_stop_the_run_before_the_model_loads, refusals::refused);
            shared!(an_unreachable_endpoint_names_this_stores_flags_and_variables, refusals::unreachable);
            shared!(
                kill_9_then_resume_stores_every_object_once_and_lists_on_from_where_it_was,
                faults::kill_and_resume
            );

            #[test]
            fn a_store_restarted_mid_run_ends_with_every_object_stored_once() {
                if let Some(mut server) = crate::$launcher::start(&["restart"]) {
                    faults::restarted_mid_run(&mut server);
                }
            }
        }
    };
}

suite!(s3, seaweedfs);
suite!(gcs, fake_gcs);
suite!(azure, azurite);

/// The fixture photos as (name, bytes), JPEG and PNG only.
pub fn photos() -> Vec<(String, Vec<u8>)> {
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

/// The smallest fixture photo.
pub fn tiny_photo() -> Vec<u8> {
    photos().into_iter().find(|(name, _)| name.ends_with(".png")).expect("a PNG fixture").1
}

/// `count` objects under `prefix`, cycling through the fixture photos.
pub fn put_photos(store: &dyn TestStore, bucket: &str, prefix: &str, count: usize) -> Vec<String> {
    let photos = photos();
    let objects: Vec<(String, Vec<u8>)> = (0..count)
        .map(|i| {
            let (name, bytes) = &photos[i % photos.len()];
            (format!("{prefix}{i:05}-{name}"), bytes.clone())
        })
        .collect();
    let keys = objects.iter().map(|(key, _)| key.clone()).collect();
    store.put_many(bucket, objects);
    keys
}

/// `SCHEME://bucket/key`.
pub fn uri(store: &dyn TestStore, bucket: &str, key: &str) -> String {
    format!("{}://{bucket}/{key}", store.scheme())
}

/// The store's variables on a command.
pub fn with_vars(command: &mut std::process::Command, vars: &[(&str, Option<String>)]) {
    for (name, value) in vars {
        match value {
            Some(value) => command.env(name, value),
            None => command.env_remove(name),
        };
    }
}

/// `imbed ARGS` in the workspace with the store's credentials (no endpoint).
pub fn imbed(ws: &Workspace, store: &dyn TestStore, args: &[&str]) -> assert_cmd::Command {
    let mut command = ws.process();
    with_vars(&mut command, &store.vars());
    command.args(args);
    assert_cmd::Command::from_std(command)
}

/// Runs a command that prints a JSON summary: the summary and the exit code.
pub fn summary_of(mut command: assert_cmd::Command) -> (Value, i32) {
    let output = command.output().expect("run imbed");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let summary = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!("no JSON summary; stdout: {stdout}\nstderr: {}", String::from_utf8_lossy(&output.stderr))
    });
    (summary, output.status.code().unwrap_or(-1))
}

/// `imbed index SOURCE --<store>-endpoint BASE --model TINY --json EXTRA`.
pub fn index(ws: &Workspace, store: &dyn TestStore, base: &str, source: &[&str], extra: &[&str]) -> (Value, i32) {
    let mut command = imbed(ws, store, &["index"]);
    command.args(source).args(store.endpoint_args(base)).args(["--json", "--model"]).arg(tiny_model()).args(extra);
    summary_of(command)
}

/// As `index`, straight to the store.
pub fn index_direct(ws: &Workspace, store: &dyn TestStore, source: &[&str], extra: &[&str]) -> (Value, i32) {
    index(ws, store, &base(store.addr()), source, extra)
}

pub fn stats(ws: &Workspace) -> Value {
    let output = ws.imbed().args(["stats", "--json"]).output().expect("stats");
    serde_json::from_slice(&output.stdout).unwrap_or_else(|_| panic!("{}", String::from_utf8_lossy(&output.stderr)))
}

/// Object GETs (not listings) among request lines, percent-decoded (GCS escapes `-`, `.`, `_`).
pub fn object_gets(store: &dyn TestStore, lines: &[String]) -> Vec<String> {
    let gets = lines.iter().filter(|line| line.starts_with("GET ") && !line.contains(store.listing_marker()));
    gets.map(|line| percent_decoded(line)).collect()
}

fn percent_decoded(text: &str) -> String {
    let mut bytes = Vec::with_capacity(text.len());
    let mut rest = text.as_bytes();
    while let Some((&first, tail)) = rest.split_first() {
        let hex = tail.get(..2).and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok());
        match (first, hex) {
            (b'%', Some(byte)) => {
                bytes.push(byte);
                rest = &tail[2..];
            }
            _ => {
                bytes.push(first);
                rest = tail;
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Listings among the request lines that a proxy saw.
pub fn listings(store: &dyn TestStore, proxy: &TcpProxy) -> Vec<String> {
    proxy.requests().into_iter().filter(|line| line.contains(store.listing_marker())).collect()
}
