//! Regenerates `completions/` and `man/` from the clap definitions.
fn main() -> anyhow::Result<()> {
    imbed::docs::write_all(std::path::Path::new(env!("CARGO_MANIFEST_DIR")))
}
