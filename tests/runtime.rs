//! Finding ONNX Runtime, and `imbed doctor`.

mod common;

use common::*;
use predicates::str::contains;

/// Where the runtime's own search (beside the executable, in the folders above the working
/// directory, in the system library folders) would find a library without any setting.
fn library_found_without_setting(dirs: &[&std::path::Path]) -> Option<std::path::PathBuf> {
    let system =
        ["/usr/local/lib", "/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64"];
    let venvs = dirs.iter().flat_map(|dir| dir.ancestors()).map(|dir| dir.join(".venv")).find(|venv| venv.exists());
    venvs.or_else(|| {
        system.iter().map(std::path::Path::new).find_map(|dir| {
            let entries = std::fs::read_dir(dir).ok()?;
            entries.filter_map(Result::ok).map(|e| e.path()).find(|path| {
                path.file_name().is_some_and(|name| name.to_string_lossy().starts_with("libonnxruntime.so"))
            })
        })
    })
}

#[test]
fn a_missing_library_says_how_to_install_it() {
    let ws = Workspace::new();
    let empty_bin = ws.path().join("bin");
    std::fs::create_dir_all(&empty_bin).expect("bin");
    // A copy of the binary, so that the checkout's .venv is not beside it wherever cargo built it.
    let binary = copy_imbed(&ws.path().join("exe/imbed"));
    if let Some(found) = library_found_without_setting(&[ws.path()]) {
        skip(&format!("ONNX Runtime would be found at {}", found.display()));
        return;
    }
    let mut command = ws.imbed_from(&binary);
    command
        .env_remove("ORT_DYLIB_PATH")
        .env("PATH", &empty_bin)
        .env("LD_LIBRARY_PATH", &empty_bin)
        .arg("index")
        .arg(fixture_images())
        .arg("--model")
        .arg(tiny_model());
    command
        .assert()
        .code(2)
        .stderr(contains("ONNX Runtime library not found"))
        .stderr(contains("pip install onnxruntime"));
    ws.imbed()
        .args(["--ort-lib", "/nonexistent/libonnxruntime.so", "embed"])
        .arg(fixture_images().join("checker.webp"))
        .arg("--model")
        .arg(tiny_model())
        .assert()
        .code(2)
        .stderr(contains("/nonexistent/libonnxruntime.so"))
        .stderr(contains("pip install onnxruntime"));
}

#[test]
fn the_project_venv_is_found_without_any_setting() {
    // Binaries copied out of the build folder, so that the checkout's .venv is not beside them.
    let elsewhere = Workspace::new();
    if let Some(found) = library_found_without_setting(&[elsewhere.path()]) {
        skip(&format!("ONNX Runtime would be found at {} without a project .venv", found.display()));
        return;
    }
    let empty_bin = elsewhere.path().join("bin");
    std::fs::create_dir_all(&empty_bin).expect("bin");
    let doctor = |ws: &Workspace, binary: &std::path::Path, cwd: &std::path::Path| {
        let output = ws
            .imbed_from(binary)
            .current_dir(cwd)
            .env_remove("ORT_DYLIB_PATH")
            .env("PATH", &empty_bin)
            .env("LD_LIBRARY_PATH", &empty_bin)
            .arg("doctor")
            .output()
            .expect("doctor");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
        stdout
    };

    // The .venv in the working directory.
    let ws = Workspace::new();
    std::os::unix::fs::symlink(repo().join(".venv"), ws.path().join(".venv")).expect("link .venv");
    let binary = copy_imbed(&elsewhere.path().join("exe/imbed"));
    let stdout = doctor(&ws, &binary, ws.path());
    assert!(stdout.contains("found via the project's .venv"), "{stdout}");

    // The .venv above the executable, as `target/release/imbed` finds the checkout's.
    let checkout = Workspace::new();
    std::os::unix::fs::symlink(repo().join(".venv"), checkout.path().join(".venv")).expect("link .venv");
    let binary = copy_imbed(&checkout.path().join("target/release/imbed"));
    let stdout = doctor(&checkout, &binary, elsewhere.path());
    assert!(stdout.contains("found via the project's .venv"), "{stdout}");
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

#[test]
fn doctor_reports_a_broken_collection_file() {
    let ws = Workspace::new();
    let (summary, code) = ws.index(&[&fixture_images()], &[]);
    assert_eq!(code, 0, "{summary}");
    ws.imbed().arg("doctor").assert().success();
    let info = ws.path().join("imbed-store/images.imbed.json");
    assert!(info.is_file(), "index keeps the model beside the collection");
    std::fs::write(&info, b"{\"dimension\": 64, \"model\": ").expect("break the file");
    let output = ws.imbed().arg("doctor").output().expect("doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "a failed check: {stdout}");
    let line = stdout.lines().find(|line| line.contains("images.imbed.json")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("FAIL") && line.contains("cannot parse"), "{stdout}");
}

#[test]
fn doctor_reports_the_text_model_the_collection_remembers_or_the_one_given() {
    let ws = Workspace::new();
    let text_model = text_model();
    let (summary, code) = ws.index(&[&fixture_images()], &["--text-model", &text_model.to_string_lossy()]);
    assert_eq!(code, 0, "{summary}");
    let output = ws.imbed().arg("doctor").output().expect("doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    let line = stdout.lines().find(|line| line.contains("text model:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("ok") && line.contains("output `text_embeds`, 64 dimensions, texts cut at 77"), "{line}");

    // A SigLIP-shaped tower: its config names its output, and its texts are padded.
    let siglip = fixtures().join("siglip-text-model");
    let output = ws.imbed().arg("doctor").arg("--text-model").arg(&siglip).output().expect("doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().find(|line| line.contains("text model:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.contains("output `pooler_output`") && line.contains("16 tokens, padded"), "{line}");

    // A folder that is no text model fails the check.
    let output = ws.imbed().arg("doctor").arg("--text-model").arg(fixture_images()).output().expect("doctor");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(2), "{stdout}");
    let line = stdout.lines().find(|line| line.contains("text model:")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(line.starts_with("FAIL") && line.contains("model.onnx"), "{line}");
}
