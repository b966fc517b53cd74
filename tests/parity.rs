//! Preprocessing follows transformers' CLIPImageProcessor: the same model fed by either gives
//! embeddings with cosine >= 0.999 (scripts/check_preprocess.py; the README's test command
//! installs transformers into .venv).

mod common;

use common::*;

#[test]
fn embeddings_match_the_transformers_clip_processor() {
    let python = repo().join(".venv/bin/python");
    let output = std::process::Command::new(&python)
        .arg(repo().join("scripts/check_preprocess.py"))
        .arg("--imbed")
        .arg(assert_cmd::cargo::cargo_bin("imbed"))
        .arg("--model")
        .arg(tiny_model())
        .args(["--min-cosine", "0.999"])
        .arg(fixture_images())
        .env("ORT_DYLIB_PATH", ort_library())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}; run the README's test command", python.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    assert!(output.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains(&format!("{} images", fixture_image_count())), "{stdout}");
}
