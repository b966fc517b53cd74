//! Nightly runs over a finished checkpoint: only new and changed files are embedded, files that
//! are gone are deleted with --delete-missing, and shards split a corpus exactly.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{fixture_images, fixtures, skip, Workspace};
use serde_json::Value;

/// Every point in the workspace's store: its `key` payload and its vector.
fn stored(ws: &Workspace) -> BTreeMap<String, Vec<f32>> {
    let store = imbed::sink::EdgeStore::open(&ws.path().join("imbed-store"), "images").expect("open store");
    let mut points = BTreeMap::new();
    let mut start = None;
    loop {
        let (page, next) = store.read_points(start, 64).expect("read points");
        for point in page {
            let key = point.payload["key"].as_str().expect("key payload").to_string();
            assert!(points.insert(key, point.vector).is_none(), "two points for one key");
        }
        match next {
            Some(next) => start = Some(next),
            None => return points,
        }
    }
}

fn keys(points: &BTreeMap<String, Vec<f32>>) -> Vec<&str> {
    points.keys().map(String::as_str).collect()
}

fn set_mtime(path: &Path, time: SystemTime) {
    std::fs::File::options().write(true).open(path).expect("open").set_modified(time).expect("set mtime");
}

fn mtime(path: &Path) -> SystemTime {
    std::fs::metadata(path).expect("stat").modified().expect("mtime")
}

fn run(summary: &Value) -> &Value {
    &summary["run"]
}

fn stats(ws: &Workspace, checkpoints: &[&str]) -> Value {
    let output = ws.imbed().args(["stats", "--json"]).args(checkpoints).output().expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stats JSON")
}

fn cosine(a: &[f32], b: &[f64]) -> f64 {
    let dot: f64 = a.iter().zip(b).map(|(x, y)| f64::from(*x) * y).sum();
    let norm = |v: &mut dyn Iterator<Item = f64>| v.map(|x| x * x).sum::<f64>().sqrt();
    dot / (norm(&mut a.iter().map(|x| f64::from(*x))) * norm(&mut b.iter().copied()))
}

#[test]
fn a_second_run_embeds_only_new_and_changed_files_and_deletes_only_when_asked() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/a.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "photos/b.jpg");
    ws.copy_fixture("checker.webp", "photos/c.webp");
    ws.copy_fixture("alpha_vignette.png", "photos/deep/d.png");
    let photos = ws.path().join("photos");
    let (first, code) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(code, 0, "{first}");
    assert_eq!(keys(&stored(&ws)), ["photos/a.jpg", "photos/b.jpg", "photos/c.webp", "photos/deep/d.png"]);

    // Nothing changed: nothing is decoded.
    let (same, code) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(code, 0, "{same}");
    assert_eq!((run(&same)["planned"].as_u64(), run(&same)["unchanged"].as_u64()), (Some(0), Some(4)), "{same}");
    assert_eq!(run(&same)["done"], 0);

    // One new file, one rewritten with other content, one gone.
    ws.copy_fixture("UPPER_PLASMA.JPG", "photos/new/e.jpg");
    let b = ws.copy_fixture("grayscale_portrait.png", "photos/b.jpg");
    set_mtime(&b, mtime(&b) + Duration::from_secs(5));
    std::fs::remove_file(photos.join("c.webp")).expect("remove");
    let (without, code) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(code, 0, "{without}");
    assert_eq!(run(&without)["planned"], 2, "e is new, b changed: {without}");
    assert_eq!((run(&without)["changed"].as_u64(), run(&without)["deleted"].as_u64()), (Some(1), Some(0)));
    let points = stored(&ws);
    assert!(points.contains_key("photos/c.webp"), "deleting is off by default");
    let expected = ws.embed_vector(&b, &common::tiny_model(), &[]);
    assert!(cosine(&points["photos/b.jpg"], &expected) > 0.9999, "b's point holds its new content");

    let (deleting, code) = ws.index(&[Path::new("photos")], &["--delete-missing"]);
    assert_eq!(code, 0, "{deleting}");
    assert_eq!((run(&deleting)["planned"].as_u64(), run(&deleting)["deleted"].as_u64()), (Some(0), Some(1)));
    assert_eq!(keys(&stored(&ws)), ["photos/a.jpg", "photos/b.jpg", "photos/deep/d.png", "photos/new/e.jpg"]);
    let summary = stats(&ws, &[]);
    assert_eq!(summary["items"]["deleted"], 1, "{summary}");
    assert_eq!((summary["items"]["total"].as_u64(), summary["items"]["done"].as_u64()), (Some(4), Some(4)));
    let text = ws.imbed().arg("stats").output().expect("stats");
    assert!(String::from_utf8_lossy(&text.stdout).contains("1 deleted"), "{}", String::from_utf8_lossy(&text.stdout));

    // A file that comes back is embedded again.
    ws.copy_fixture("checker.webp", "photos/c.webp");
    let (back, code) = ws.index(&[Path::new("photos")], &["--delete-missing"]);
    assert_eq!(code, 0, "{back}");
    assert_eq!(run(&back)["planned"], 1, "{back}");
    assert_eq!(stored(&ws).len(), 5);
    assert_eq!(stats(&ws, &[])["items"]["deleted"], 0);
}

#[test]
fn a_source_folder_that_went_empty_keeps_its_items() {
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/a.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "other/b.jpg");
    ws.copy_fixture("checker.webp", "other/c.webp");
    let roots = [Path::new("photos"), Path::new("other")];
    let (first, code) = ws.index(&roots, &[]);
    assert_eq!(code, 0, "{first}");
    // As if the volume under photos/ were not mounted tonight, while c.webp really went away.
    std::fs::remove_file(ws.path().join("photos/a.jpg")).expect("remove");
    std::fs::remove_file(ws.path().join("other/c.webp")).expect("remove");
    let nightly = |ws: &Workspace| {
        let mut command = ws.imbed();
        command.args(["index", "photos", "other", "--delete-missing", "--json", "--model"]).arg(common::tiny_model());
        let output = command.output().expect("run");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let stderr = nightly(&ws);
    assert!(stderr.contains("photos holds no images now"), "{stderr}");
    assert_eq!(keys(&stored(&ws)), ["other/b.jpg", "photos/a.jpg"]);

    std::fs::remove_file(ws.path().join("other/b.jpg")).expect("remove");
    let stderr = nightly(&ws);
    assert!(stderr.contains("nothing is deleted"), "{stderr}");
    assert_eq!(keys(&stored(&ws)), ["other/b.jpg", "photos/a.jpg"]);
}

#[test]
fn verify_content_ignores_a_touch_and_catches_a_rewrite_that_keeps_size_and_time() {
    let ws = Workspace::new();
    let bmp = ws.copy_fixture("small_stripes.bmp", "photos/stripes.bmp");
    ws.copy_fixture("landscape_gradient.jpg", "photos/a.jpg");
    let (first, code) = ws.index(&[Path::new("photos")], &["--verify-content"]);
    assert_eq!(code, 0, "{first}");
    let before = stored(&ws)["photos/stripes.bmp"].clone();

    let recorded = mtime(&bmp);
    set_mtime(&bmp, recorded + Duration::from_secs(60));
    let (touched, _) = ws.index(&[Path::new("photos")], &["--verify-content"]);
    assert_eq!((run(&touched)["planned"].as_u64(), run(&touched)["unchanged"].as_u64()), (Some(0), Some(2)));

    // Same size, same modification time, other pixels: only the hash tells.
    let mut bytes = std::fs::read(&bmp).expect("read");
    let pixels = bytes.len() / 2;
    bytes[pixels..].iter_mut().for_each(|b| *b = 255 - *b);
    std::fs::write(&bmp, &bytes).expect("write");
    set_mtime(&bmp, recorded + Duration::from_secs(60));
    let (size_and_time, _) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(run(&size_and_time)["planned"], 0, "without --verify-content size and mtime decide");
    let (hashed, code) = ws.index(&[Path::new("photos")], &["--verify-content"]);
    assert_eq!(code, 0, "{hashed}");
    assert_eq!((run(&hashed)["planned"].as_u64(), run(&hashed)["changed"].as_u64()), (Some(1), Some(1)));
    assert_ne!(stored(&ws)["photos/stripes.bmp"], before, "the point was overwritten with the new pixels");

    // Without --verify-content a touch is a change.
    set_mtime(&bmp, recorded + Duration::from_secs(120));
    let (touched, _) = ws.index(&[Path::new("photos")], &[]);
    assert_eq!(run(&touched)["planned"], 1, "{touched}");
}

#[test]
fn a_changed_model_is_refused_unless_reindex_embeds_everything_again() {
    let ws = Workspace::new();
    let (first, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{first}");
    let count = first["items"]["done"].as_u64().expect("done");

    let other_model = fixtures().join("model-static");
    let refused = ws.imbed().arg("index").arg(fixture_images()).arg("--model").arg(&other_model).output().expect("run");
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("model.onnx has changed") && stderr.contains("--reindex"), "{stderr}");

    let output = ws
        .imbed()
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(&other_model)
        .args(["--reindex", "--json"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(run(&summary)["done"].as_u64(), Some(count), "{summary}");
    assert_eq!(common::points(&summary), count, "same collection, same IDs, no duplicates");
}

#[test]
fn shards_cover_every_item_exactly_once() {
    let ws = Workspace::new();
    let names: Vec<String> = std::fs::read_dir(fixture_images())
        .expect("fixtures")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    let mut copies = 0;
    for copy in 0..4 {
        for name in &names {
            ws.copy_fixture(name, &format!("corpus/{copy}/{name}"));
            copies += 1;
        }
    }
    // The same shards, picked by flag, by a Kubernetes Indexed Job and by a Slurm array.
    type Env<'a> = &'a [(&'a str, &'a str)];
    let ways: [(&[&str], Env); 3] = [
        (&["--shard", "0/3"], &[]),
        (&["--shard-count", "3"], &[("JOB_COMPLETION_INDEX", "1")]),
        (&[], &[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "3")]),
    ];
    let mut done = 0;
    for (shard, (flags, env)) in ways.iter().enumerate() {
        let checkpoint = format!("shard-{shard}.ckpt");
        let mut command = ws.imbed();
        command.args(["index", "corpus", "--json", "--checkpoint", &checkpoint, "--model"]).arg(common::tiny_model());
        command.args(*flags).envs(env.iter().copied());
        let output = command.output().expect("run");
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        let summary: Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let shard_done = summary["items"]["done"].as_u64().expect("done");
        assert!(shard_done > 0 && shard_done < copies, "shard {shard} took {shard_done} of {copies}");
        done += shard_done;
    }
    assert_eq!(done, copies, "no item twice, none left out");
    assert_eq!(stored(&ws).len() as u64, copies);
    let merged = stats(&ws, &["shard-0.ckpt", "shard-1.ckpt", "shard-2.ckpt"]);
    assert_eq!(merged["items"]["done"].as_u64(), Some(copies), "{merged}");
    assert_eq!(merged["runs"][1]["shard"], "1/3");

    // A checkpoint keeps its shard.
    let output = ws
        .imbed()
        .args(["index", "corpus", "--checkpoint", "shard-0.ckpt", "--shard", "1/3", "--model"])
        .arg(common::tiny_model())
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("holds shard 0/3, not shard 1/3"));
}

#[test]
fn items_under_a_folder_that_cannot_be_read_are_kept() {
    use std::os::unix::fs::PermissionsExt;
    let ws = Workspace::new();
    ws.copy_fixture("landscape_gradient.jpg", "photos/open/a.jpg");
    ws.copy_fixture("portrait_shapes.jpg", "photos/locked/b.jpg");
    let Some((first, code)) = ws.index_unprivileged(&[Path::new("photos")], &[]) else {
        skip("running as root without setpriv: file modes cannot be tested");
        return;
    };
    assert_eq!(code, 0, "{first}");
    let locked = ws.path().join("photos/locked");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let outcome = ws.index_unprivileged(&[Path::new("photos")], &["--delete-missing"]);
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    let (summary, code) = outcome.expect("ran before");
    assert_eq!(code, 1, "the folder fails as a walk error: {summary}");
    assert_eq!(summary["errors"]["walk"], 1, "{summary}");
    assert_eq!(run(&summary)["deleted"], 0, "{summary}");
    assert_eq!(keys(&stored(&ws)), ["photos/locked/b.jpg", "photos/open/a.jpg"]);
}

#[test]
fn a_run_does_not_mix_full_and_reduced_jpeg_decoding() {
    let ws = Workspace::new();
    let (first, code) = ws.index(&[&fixture_images()], &["--full-decode"]);
    assert_eq!(code, 0, "{first}");
    let refused = ws.imbed().arg("index").arg(fixture_images()).arg("--model").arg(common::tiny_model()).output();
    let refused = refused.expect("run");
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("the preprocessing has changed"));
    let (again, code) = ws.index(&[&fixture_images()], &["--full-decode"]);
    assert_eq!((code, run(&again)["planned"].as_u64()), (0, Some(0)), "{again}");
}

#[test]
fn stats_counts_a_checkpoint_named_twice_once() {
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &["--checkpoint", "a.ckpt"]);
    assert_eq!(code, 0, "{summary}");
    let done = summary["items"]["done"].as_u64().expect("done");
    let output = ws.imbed().env("IMBED_CHECKPOINT", "a.ckpt").args(["stats", "--json", "a.ckpt"]).output();
    let output = output.expect("stats");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let merged: Value = serde_json::from_slice(&output.stdout).expect("stats JSON");
    assert_eq!(merged["items"]["done"], done, "{merged}");
    assert_eq!(merged["runs"].as_array().map(Vec::len), Some(1), "{merged}");
    // The same file through another path, and a missing one, which is still reported.
    let merged = stats(&ws, &["a.ckpt", "./a.ckpt", &ws.path().join("a.ckpt").to_string_lossy()]);
    assert_eq!(merged["items"]["done"], done, "{merged}");
    let output = ws.imbed().args(["stats", "a.ckpt", "gone.ckpt"]).output().expect("stats");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("gone.ckpt"));
}

#[test]
fn stats_warns_of_a_run_configuration_it_cannot_read() {
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &["--checkpoint", "a.ckpt"]);
    assert_eq!(code, 0, "{summary}");
    let output = ws.imbed().args(["stats", "a.ckpt"]).output().expect("stats");
    assert!(output.status.success());
    assert_eq!(String::from_utf8_lossy(&output.stderr), "", "a readable checkpoint: no warning");
    let connection = rusqlite::Connection::open(ws.path().join("a.ckpt")).expect("open the checkpoint");
    let changed = connection.execute("UPDATE meta SET value = '{\"paths\": [' WHERE key = 'config'", []);
    assert_eq!(changed.expect("corrupt the configuration"), 1);
    drop(connection);
    let output = ws.imbed().args(["stats", "a.ckpt"]).output().expect("stats");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning") && stderr.contains("a.ckpt"), "{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Store: not counted") && !stdout.contains("Store: 0 points"), "{stdout}");
    let output = ws.imbed().args(["stats", "--json", "a.ckpt"]).output().expect("stats");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("warning") && stderr.contains("a.ckpt"), "{stderr}");
    let stats: Value = serde_json::from_slice(&output.stdout).expect("stats JSON");
    assert_eq!(stats["items"]["done"], summary["items"]["done"], "the items are still counted: {stats}");
    assert!(stats["sink"]["error"].as_str().is_some_and(|e| e.contains("a.ckpt")), "{stats}");
}
