//! `search` and `embed` over several query images: one that fails is a warning, and the rest go on.

mod common;

use common::*;
use serde_json::Value;

#[test]
fn a_bad_query_image_is_a_warning_and_the_others_are_answered() {
    let ws = Workspace::new();
    ws.index(&[&fixture_images()], &[]);
    let good = fixture_images().join("checker.webp");
    let garbage = ws.write("garbage.jpg", b"not an image at all");
    let missing = ws.path().join("missing.jpg");

    let output = ws
        .imbed()
        .arg("embed")
        .arg(&good)
        .arg(&missing)
        .arg(&garbage)
        .arg(&good)
        .arg("--model")
        .arg(tiny_model())
        .output()
        .expect("embed");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let lines: Vec<Value> =
        String::from_utf8_lossy(&output.stdout).lines().map(|line| serde_json::from_str(line).expect("JSON")).collect();
    assert_eq!(lines.len(), 2, "both good images are embedded");
    assert!(stderr.contains("missing.jpg [not_found]") && stderr.contains("garbage.jpg [unsupported]"), "{stderr}");

    let output = ws.imbed().args(["search", "--json", "--top", "1"]).arg(&garbage).arg(&good).output().expect("search");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let hits: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert!(hits["results"][0]["path"].as_str().expect("path").ends_with("checker.webp"), "{hits}");
    assert!(stderr.contains("garbage.jpg [unsupported]"), "{stderr}");
}
