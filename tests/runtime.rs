//! Finding ONNX Runtime, and `imbed doctor`.

mod common;

use common::*;
use predicates::str::contains;

#[test]
fn a_missing_library_says_how_to_install_it() {
    let ws = Workspace::new();
    let empty_bin = ws.path().join("bin");
    std::fs::create_dir_all(&empty_bin).expect("bin");
    let mut command = ws.imbed();
    command
        .env_remove("ORT_DYLIB_PATH")
        .env("PATH", &empty_bin)
        .env("LD_LIBRARY_PATH", &empty_bin)
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model());
    // The binary lives outside the checkout only with a custom target dir; either way the
    // explicit, missing path below must produce the install hint.
    command.assert().code(2);
    ws.imbed()
        .args(["--ort-lib", "/nonexistent/libonnxruntime.so", "embed"])
        .arg(fixture_images().join("checker.webp"))
        .arg("--model")
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(contains("pip install onnxruntime"));
}

#[test]
fn the_project_venv_is_found_without_any_setting() {
    let ws = Workspace::new();
    std::os::unix::fs::symlink(repo().join(".venv"), ws.path().join(".venv")).expect("link .venv");
    ws.imbed()
        .env_remove("ORT_DYLIB_PATH")
        .arg("doctor")
        .assert()
        .success()
        .stdout(contains("found via the project's .venv"));
}

#[test]
fn doctor_reports_library_providers_model_and_store() {
    let ws = Workspace::new();
    ws.index(&[&fixture_images()], &[]);
    ws.imbed()
        .arg("doctor")
        .assert()
        .success()
        .stdout(contains("libonnxruntime.so"))
        .stdout(contains("CPUExecutionProvider"))
        .stdout(contains("input `pixel_values`"))
        .stdout(contains("output `image_embeds`"))
        .stdout(contains("64 dimensions"))
        .stdout(contains(format!("{} points", fixture_image_count())));
}
