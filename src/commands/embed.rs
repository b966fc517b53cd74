use std::io::Write;

use serde_json::json;

use super::{load_encoder, query_loader, resolve_model, thread_split, ExitStatus};
use crate::cli::{EmbedArgs, GlobalArgs};
use crate::item::path_text;

/// Prints one JSON line per image: `{"path": ..., "vector": [...]}`.
pub fn embed(global: &GlobalArgs, args: EmbedArgs) -> anyhow::Result<ExitStatus> {
    let (intra_threads, _) = thread_split(args.model.intra_threads, None);
    let resolved = resolve_model(&args.model, None, intra_threads)?;
    let mut encoder = load_encoder(global, &resolved)?;
    let loader = query_loader(&resolved, &encoder, &args.decode);
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for path in &args.images {
        match loader.load(path) {
            Ok((_, slot)) => {
                let vector = encoder.embed(&[&slot])?.pop().unwrap_or_default();
                writeln!(out, "{}", json!({"path": path_text(path), "vector": vector}))?;
            }
            Err(error) => {
                eprintln!("warning: {} [{}]: {}", path_text(path), error.class, error.message);
                failed = true;
            }
        }
    }
    Ok(if failed { ExitStatus::ItemsFailed } else { ExitStatus::Success })
}
