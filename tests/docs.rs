//! The committed completions and man pages match the clap definitions.

#[test]
fn committed_completions_and_man_pages_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut stale = Vec::new();
    for (relative, expected) in imbed::docs::generated_files().expect("generate") {
        if std::fs::read(root.join(&relative)).ok().as_deref() != Some(expected.as_slice()) {
            stale.push(relative);
        }
    }
    assert!(stale.is_empty(), "stale: {stale:?}; run `cargo run --example generate-docs` and commit the result");
}
