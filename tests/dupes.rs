//! `imbed dupes` and `imbed index --skip-duplicates` (issue 25), with the real binary on made
//! photos (scripts/make_dupes_fixtures.py): every variant of a source photo (resized, JPEG at
//! quality 20, PNG, WebP, cropped by 5%, brightened by 10%, EXIF-rotated, a byte copy) is
//! grouped with it, and no distinct photo joins a group, on the embedded store and on the real
//! Qdrant server; `--mark` writes `dup_of` into exactly the members, `search --filter
//! dup_of=ID` finds them and `search --filter '!dup_of'` leaves them out;
//! with `--skip-duplicates` each file's bytes are embedded once, in a first run, a resume and a
//! retry, counting points that another checkpoint wrote to the collection, and a copy whose
//! original changes is embedded by the next run.
//!
//! The server test needs a Qdrant binary (see tests/support/real_qdrant.rs) and skips without
//! one, a failure under CI=true. The fixtures need the README's `.venv` (Pillow, numpy).

mod common;
#[path = "support/real_qdrant.rs"]
mod real_qdrant;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use common::{repo, tiny_model, Workspace};
use serde_json::Value;

/// Sources and distinct photos of the test's fixture set: 6 x (original + 7 variants), 2 byte
/// copies, 6 distinct photos; 56 files.
const SOURCES: usize = 6;
const DISTINCT: usize = 6;

/// What truth.json says of one file: its group (the source's name) and variant kind.
#[derive(Debug, Clone)]
struct Truth {
    group: String,
    variant: String,
}

/// Writes the fixture set under `ws/fx` (images in `fx/images`); its truth by relative path.
fn make_fixtures(ws: &Workspace) -> BTreeMap<String, Truth> {
    let out = ws.path().join("fx");
    let python = repo().join(".venv/bin/python");
    let status = std::process::Command::new(&python)
        .arg(repo().join("scripts/make_dupes_fixtures.py"))
        .arg(&out)
        .args(["--sources", &SOURCES.to_string(), "--distinct", &DISTINCT.to_string()])
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run the README's test command", python.display()));
    assert!(status.success(), "make_dupes_fixtures.py failed");
    let truth: Value =
        serde_json::from_slice(&std::fs::read(out.join("truth.json")).expect("truth.json")).expect("JSON");
    truth["files"]
        .as_object()
        .expect("files")
        .iter()
        .map(|(path, entry)| {
            let text = |name: &str| entry[name].as_str().expect("text").to_string();
            (path.clone(), Truth { group: text("group"), variant: text("variant") })
        })
        .collect()
}

/// The fixture folder as imbed is given it, relative to the workspace: keys start with it.
const IMAGES: &str = "fx/images";

fn relative(key: &str) -> String {
    key.strip_prefix(IMAGES).map_or(key, |rest| rest.trim_start_matches('/')).to_string()
}

/// `imbed ARGS` in the workspace, which must exit 0: stdout.
fn ok(ws: &Workspace, args: &[&str]) -> String {
    let output = ws.imbed().args(args).output().expect("run imbed");
    assert!(output.status.success(), "imbed {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).expect("UTF-8")
}

/// One group of `imbed dupes`' JSON lines: the kept key first, then each member's key, reason
/// and score.
#[derive(Debug)]
struct Found {
    keep: String,
    keep_id: String,
    members: Vec<(String, String, f64)>,
}

impl Found {
    fn keys(&self) -> BTreeSet<String> {
        std::iter::once(self.keep.clone()).chain(self.members.iter().map(|(key, _, _)| key.clone())).collect()
    }
}

fn dupes(ws: &Workspace, args: &[&str]) -> Vec<Found> {
    let mut command = vec!["dupes"];
    command.extend(args);
    ok(ws, &command)
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let group: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
            let key = |value: &Value| relative(value["key"].as_str().expect("key"));
            let members = group["members"].as_array().expect("members");
            Found {
                keep: key(&group["keep"]),
                keep_id: group["keep"]["id"].as_str().expect("id").to_string(),
                members: members
                    .iter()
                    .map(|m| {
                        (key(m), m["reason"].as_str().expect("reason").to_string(), m["score"].as_f64().expect("score"))
                    })
                    .collect(),
            }
        })
        .collect()
}

/// Every variant in one group with its source's original, no group holding files of two
/// sources, no distinct photo in any group, and one group per source.
fn assert_grouped(found: &[Found], truth: &BTreeMap<String, Truth>) {
    let mut group_of = BTreeMap::new();
    for (number, group) in found.iter().enumerate() {
        for key in group.keys() {
            assert!(truth.contains_key(&key), "{key} is no fixture file");
            assert!(group_of.insert(key.clone(), number).is_none(), "{key} is in two groups");
        }
        let keys = group.keys();
        let sources: BTreeSet<&str> = keys.iter().map(|key| truth[key].group.as_str()).collect();
        assert_eq!(sources.len(), 1, "group {number} mixes photos: {keys:?}");
    }
    let mut missed = Vec::new();
    for (path, entry) in truth {
        match entry.variant.as_str() {
            "distinct" => assert!(!group_of.contains_key(path), "the distinct photo {path} is in a group"),
            "original" => {}
            variant => {
                let original = format!("{}-original.jpg", entry.group);
                if !group_of.contains_key(path) || group_of.get(path) != group_of.get(&original) {
                    missed.push(format!("{path} ({variant})"));
                }
            }
        }
    }
    assert!(missed.is_empty(), "variants not grouped with their source: {missed:?}\ngroups: {found:#?}");
    assert_eq!(found.len(), SOURCES, "one group per source: {found:#?}");
}

/// `--method exact` finds exactly the byte copies, each with its original, reason `exact`.
fn assert_exact(found: &[Found], truth: &BTreeMap<String, Truth>) {
    let copies: BTreeSet<BTreeSet<String>> = truth
        .iter()
        .filter(|(_, entry)| entry.variant == "copy")
        .map(|(path, entry)| [path.clone(), format!("{}-original.jpg", entry.group)].into())
        .collect();
    let groups: BTreeSet<BTreeSet<String>> = found.iter().map(Found::keys).collect();
    assert_eq!(groups, copies, "exact groups");
    for group in found {
        assert!(group.members.iter().all(|(_, reason, score)| reason == "exact" && *score == 1.0), "{group:?}");
    }
}

fn index_images(ws: &Workspace, extra: &[&str]) {
    let model = tiny_model();
    let mut args = vec!["index", IMAGES, "--model", model.to_str().expect("UTF-8"), "--quiet"];
    args.extend(extra);
    ok(ws, &args);
}

#[test]
fn every_variant_is_grouped_with_its_source_on_the_embedded_store() {
    let ws = Workspace::new();
    let truth = make_fixtures(&ws);
    index_images(&ws, &["--collection", "fx"]);
    assert_grouped(&dupes(&ws, &["--collection", "fx", "--method", "exact,near"]), &truth);
    assert_grouped(&dupes(&ws, &["--collection", "fx", "--method", "near"]), &truth);
    assert_exact(&dupes(&ws, &["--collection", "fx", "--method", "exact"]), &truth);
    // Near copies' scores are Hamming distances within the default.
    for group in dupes(&ws, &["--collection", "fx", "--method", "near", "--keep", "first"]) {
        for (key, reason, score) in &group.members {
            assert_eq!(reason, "near", "{key}");
            assert!((0.0..=10.0).contains(score) && score.fract() == 0.0, "{key}: {score}");
        }
    }
}

#[test]
fn every_variant_is_grouped_with_its_source_on_the_real_qdrant_server() {
    let Some(server) = real_qdrant::shared() else { return };
    let ws = Workspace::new();
    let truth = make_fixtures(&ws);
    let url = server.url();
    index_images(&ws, &["--qdrant", &url, "--collection", "dupes-fx"]);
    assert_eq!(server.count("dupes-fx"), truth.len() as u64);
    let on_server = ["--qdrant", url.as_str(), "--collection", "dupes-fx"];
    assert_grouped(&dupes(&ws, &[&on_server[..], &["--method", "exact,near"]].concat()), &truth);
    assert_exact(&dupes(&ws, &[&on_server[..], &["--method", "exact"]].concat()), &truth);
}

/// The `dup_of` field of every point of the embedded collection, by relative key.
fn dup_of(ws: &Workspace, collection: &str) -> BTreeMap<String, Option<String>> {
    common::stored_payloads(ws, collection)
        .into_iter()
        .map(|payload| {
            let key = relative(payload["key"].as_str().expect("key"));
            (key, payload.get("dup_of").and_then(Value::as_str).map(str::to_string))
        })
        .collect()
}

/// The hits (up to 1000) of a search of collection `fx` for `query` under `filter`.
fn filtered_search(ws: &Workspace, filter: &str, query: &Path) -> Vec<Value> {
    let query = query.to_str().expect("UTF-8");
    let output = ok(ws, &["search", "--collection", "fx", "--json", "--top", "1000", "--filter", filter, query]);
    let hits: Value = serde_json::from_str(output.trim()).expect("search JSON");
    hits["results"].as_array().expect("results").clone()
}

#[test]
fn mark_writes_dup_of_into_exactly_the_members_and_search_filters_on_it() {
    let ws = Workspace::new();
    let truth = make_fixtures(&ws);
    index_images(&ws, &["--collection", "fx"]);
    let found = dupes(&ws, &["--collection", "fx", "--method", "exact,near", "--mark"]);
    assert_grouped(&found, &truth);
    let marked = dup_of(&ws, "fx");
    assert_eq!(marked.len(), truth.len());
    for group in &found {
        assert_eq!(marked[&group.keep], None, "the kept {} is not marked", group.keep);
        for (key, _, _) in &group.members {
            assert_eq!(marked[key].as_deref(), Some(group.keep_id.as_str()), "{key}");
        }
    }
    let members: usize = found.iter().map(|group| group.members.len()).sum();
    assert_eq!(marked.values().filter(|of| of.is_some()).count(), members);

    // The members of one group, found by their dup_of: the filter the store evaluates.
    let group = &found[0];
    let query = ws.path().join(IMAGES).join(&group.keep);
    let filter = format!("dup_of={}", group.keep_id);
    let hit_keys: BTreeSet<String> = filtered_search(&ws, &filter, &query)
        .iter()
        .map(|hit| relative(hit["payload"]["key"].as_str().or(hit["key"].as_str()).expect("key")))
        .collect();
    let expected: BTreeSet<String> = group.members.iter().map(|(key, _, _)| key.clone()).collect();
    assert_eq!(hit_keys, expected);

    // `!dup_of` leaves every member out: what is left is each kept photo and the distinct ones.
    let left = filtered_search(&ws, "!dup_of", &query).len();
    assert_eq!(left, truth.len() - members, "every member is left out, and nothing else");

    // Marking again changes nothing.
    dupes(&ws, &["--collection", "fx", "--method", "exact,near", "--mark"]);
    assert_eq!(dup_of(&ws, "fx"), marked);
}

fn lines(log: &Path) -> Vec<String> {
    std::fs::read_to_string(log).map_or_else(|_| Vec::new(), |text| text.lines().map(str::to_string).collect())
}

fn stats(ws: &Workspace) -> Value {
    ws.stats_with(&[])
}

#[test]
fn skip_duplicates_embeds_each_files_bytes_once_and_a_resume_keeps_the_rule() {
    let ws = Workspace::new();
    // Three photos, the first copied twice and the second once under other names.
    let copies: [(&str, &[&str]); 3] = [
        ("landscape_gradient.jpg", &["photos/a.jpg", "photos/copy/a1.jpg", "photos/copy/a2.jpg"]),
        ("checker.webp", &["photos/b.webp", "photos/copy/b1.webp"]),
        ("UPPER_PLASMA.JPG", &["photos/c.jpg"]),
    ];
    for (fixture, names) in copies {
        for name in names {
            ws.copy_fixture(fixture, name);
        }
    }
    let log = ws.path().join("embedded.log");
    let model = tiny_model();
    let model = model.to_str().expect("UTF-8");
    let index = ["index", "photos", "--model", model, "--skip-duplicates", "--quiet", "--batch-size", "2"];
    let output = ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(index).output().expect("index");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let embedded = lines(&log);
    assert_eq!(embedded.len(), 3, "each file's bytes once: {embedded:?}");
    let contents = |keys: &[String]| -> BTreeSet<Vec<u8>> {
        keys.iter().map(|key| std::fs::read(ws.path().join(key)).expect("read")).collect()
    };
    assert_eq!(contents(&embedded).len(), 3, "three different contents embedded: {embedded:?}");
    let after = stats(&ws);
    assert_eq!(after["items"]["total"], 6, "{after}");
    assert_eq!(after["items"]["done"], 3, "{after}");
    assert_eq!(after["items"]["duplicate"], 3, "{after}");
    assert_eq!(common::stored_payloads(&ws, "images").len(), 3);

    // New copies of done files, and one new photo: a resume embeds only the new photo.
    ws.copy_fixture("landscape_gradient.jpg", "photos/new/a3.jpg");
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/new/c1.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "photos/new/d.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "photos/new/d1.jpg");
    let output = ws.imbed().env("IMBED_DEBUG_EMBED_LOG", &log).args(["resume", "--quiet"]).output().expect("resume");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let embedded = lines(&log);
    assert_eq!(embedded.len(), 4, "only the new photo's bytes, once: {embedded:?}");
    assert_eq!(contents(&embedded).len(), 4, "{embedded:?}");
    let after = stats(&ws);
    assert_eq!(after["items"]["total"], 10, "{after}");
    assert_eq!(after["items"]["done"], 4, "{after}");
    assert_eq!(after["items"]["duplicate"], 6, "{after}");
    assert_eq!(common::stored_payloads(&ws, "images").len(), 4);
}

/// `imbed ARGS` with the embed log at `log`: exit code and stderr.
fn run_logged(ws: &Workspace, log: &Path, args: &[&str]) -> (i32, String) {
    let output = ws.imbed().env("IMBED_DEBUG_EMBED_LOG", log).args(args).output().expect("run imbed");
    (output.status.code().unwrap_or(-1), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn skip_duplicates_counts_what_imbed_wrote_to_the_collection_from_another_checkpoint() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "first/a.jpg");
    ws.copy_fixture("landscape_gradient.jpg", "second/a-again.jpg");
    ws.copy_fixture("checker.webp", "second/b.webp");
    let (log, model) = (ws.path().join("embedded.log"), tiny_model());
    let model = model.to_str().expect("UTF-8");
    let first = ["index", "first", "--model", model, "--checkpoint", "first.checkpoint", "--quiet"];
    let (code, stderr) = run_logged(&ws, &log, &first);
    assert_eq!(code, 0, "{stderr}");
    let second =
        ["index", "second", "--model", model, "--checkpoint", "second.checkpoint", "--skip-duplicates", "--quiet"];
    let (code, stderr) = run_logged(&ws, &log, &second);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&log), ["first/a.jpg", "second/b.webp"], "the copy of a point in the collection is not embedded");
    let after = ws.stats_with(&["--checkpoint", "second.checkpoint"]);
    assert_eq!((&after["items"]["done"], &after["items"]["duplicate"]), (&1.into(), &1.into()), "{after}");
    assert_eq!(common::stored_payloads(&ws, "images").len(), 2);
}

#[test]
fn retry_failed_keeps_the_rule_for_a_file_that_now_holds_a_done_files_bytes() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/a.jpg");
    ws.write("photos/late.jpg", b"");
    let (log, model) = (ws.path().join("embedded.log"), tiny_model());
    let index = ["index", "photos", "--model", tiny_model_str(&model), "--skip-duplicates", "--quiet"];
    let (code, stderr) = run_logged(&ws, &log, &index);
    assert_eq!(code, 1, "the empty file fails: {stderr}");
    ws.copy_fixture("landscape_gradient.jpg", "photos/late.jpg");
    let (code, stderr) = run_logged(&ws, &log, &["retry-failed", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&log), ["photos/a.jpg"], "the retried copy is not embedded");
    let after = stats(&ws);
    assert_eq!(after["items"]["duplicate"], 1, "{after}");
    assert_eq!(after["items"]["failed"], 0, "{after}");
    assert_eq!(common::stored_payloads(&ws, "images").len(), 1);
}

#[test]
fn a_duplicate_whose_original_changes_is_embedded_by_the_next_run() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/a.jpg");
    ws.copy_fixture("landscape_gradient.jpg", "photos/a1.jpg");
    let (log, model) = (ws.path().join("embedded.log"), tiny_model());
    let index = ["index", "photos", "--model", tiny_model_str(&model), "--skip-duplicates", "--quiet"];
    let (code, stderr) = run_logged(&ws, &log, &index);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&log), ["photos/a.jpg"]);
    // Other bytes (and another size) for the original: the copy has no original left. The run
    // that sees the change embeds the original and puts the copy back to pending, saying so;
    // the next run embeds the copy.
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/a.jpg");
    let (code, stderr) = run_logged(&ws, &log, &["resume"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("lost their original"), "{stderr}");
    assert_eq!(lines(&log), ["photos/a.jpg", "photos/a.jpg"]);
    let after = stats(&ws);
    assert_eq!((&after["items"]["pending"], &after["items"]["duplicate"]), (&1.into(), &0.into()), "{after}");
    let (code, stderr) = run_logged(&ws, &log, &["resume", "--quiet"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(lines(&log), ["photos/a.jpg", "photos/a.jpg", "photos/a1.jpg"]);
    let after = stats(&ws);
    assert_eq!((&after["items"]["done"], &after["items"]["duplicate"]), (&2.into(), &0.into()), "{after}");
    assert_eq!(common::stored_payloads(&ws, "images").len(), 2);
}

fn tiny_model_str(model: &Path) -> &str {
    model.to_str().expect("UTF-8")
}
