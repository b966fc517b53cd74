use std::io::Write;

use serde_json::json;

use super::{decode_options, load_encoder, resolve_model, thread_split, ExitStatus};
use crate::cli::{EmbedArgs, GlobalArgs};
use crate::decode::MemoryBudget;
use crate::item::path_text;
use crate::pipeline::TensorLoader;

/// Prints one JSON line per image: `{"path": ..., "vector": [...]}`.
pub fn embed(global: &GlobalArgs, args: EmbedArgs) -> anyhow::Result<ExitStatus> {
    let (intra_threads, _) = thread_split(args.model.intra_threads, None);
    let resolved = resolve_model(&args.model, None, intra_threads)?;
    let mut encoder = load_encoder(global, &resolved)?;
    let loader = TensorLoader {
        preprocessor: &resolved.spec.preprocessor,
        layout: encoder.layout(),
        decode: decode_options(&args.decode),
        budget: MemoryBudget::unlimited(),
    };
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for path in &args.images {
        match loader.load(path) {
            Ok((_, slot)) => {
                let vector = encoder.embed(&[&slot])?.pop().unwrap_or_default();
                writeln!(out, "{}", json!({"path": path_text(path), "vector": vector}))?;
            }
            Err(error) => {
                eprintln!("warning: {} [{}]: {}", path.display(), error.class, error.message);
                failed = true;
            }
        }
    }
    Ok(if failed { ExitStatus::ItemsFailed } else { ExitStatus::Success })
}
