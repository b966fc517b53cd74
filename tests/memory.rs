//! Peak memory does not grow with the number of images: the stages are joined by bounded channels.

mod common;

use std::path::Path;

use common::*;

/// Runs `imbed index` on `count` images and returns the child's peak RSS in KiB.
fn peak_rss_kib(ws: &Workspace, folder: &str, count: usize) -> i64 {
    let images = ws.path().join(folder);
    std::fs::create_dir_all(&images).expect("folder");
    let sources: Vec<_> = ["landscape_gradient.jpg", "portrait_shapes.jpg", "checker.webp", "plasma_lzw.tif"]
        .iter()
        .map(|name| fixture_images().join(name))
        .collect();
    for i in 0..count {
        let source = &sources[i % sources.len()];
        let extension = source.extension().expect("extension").to_string_lossy();
        std::fs::copy(source, images.join(format!("{i:05}.{extension}"))).expect("copy");
    }
    let mut command = std::process::Command::new(assert_cmd::cargo::cargo_bin("imbed"));
    command
        .current_dir(ws.path())
        .env("ORT_DYLIB_PATH", ort_library())
        .args([
            "index",
            folder,
            "--quiet",
            "--batch-size",
            "8",
            "--collection",
            folder,
            "--checkpoint",
            &format!("{folder}.ckpt"),
            "--model",
        ])
        .arg(tiny_model());
    // Reaped by wait4 below, which also returns the child's own peak RSS.
    #[allow(clippy::zombie_processes)]
    let child = command.spawn().expect("spawn imbed");
    let mut status = 0;
    // SAFETY: plain wait4 on our own child; rusage is plain data.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let waited = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    assert_eq!(waited, child.id() as libc::pid_t);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0, "imbed failed");
    usage.ru_maxrss
}

#[test]
fn peak_memory_is_flat_as_the_corpus_grows() {
    let ws = Workspace::new();
    let small = peak_rss_kib(&ws, "small", 40);
    let large = peak_rss_kib(&ws, "large", 800);
    assert!(Path::new(&ws.path().join("imbed-store/large")).is_dir());
    eprintln!("peak RSS: 40 images {small} KiB, 800 images {large} KiB");
    // 20x the images: a pipeline that held items would grow by megabytes per hundred images.
    assert!((large as f64) < small as f64 * 1.3 + 16_384.0, "40 images: {small} KiB, 800 images: {large} KiB");
}
