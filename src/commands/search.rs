use std::io::Write;

use anyhow::Context;
use serde_json::json;

use super::{
    connect_store, load_encoder, query_loader, remembered_collection, resolve_model, thread_split, ExitStatus,
};
use crate::cli::{GlobalArgs, SearchArgs};
use crate::item::path_text;
use crate::sink::{EdgeStore, Sink};

pub fn search(global: &GlobalArgs, args: SearchArgs) -> anyhow::Result<ExitStatus> {
    let (store, dimension): (Box<dyn Sink>, usize) = match connect_store(&args.store)? {
        Some(mut server) => {
            let dimension = server.open_existing()?;
            (Box::new(server), dimension)
        }
        None => {
            let store = EdgeStore::open(&args.store.store, &args.store.collection)?;
            let dimension = store.dimension();
            (Box::new(store), dimension)
        }
    };
    // A server keeps no record of the model, so it must be named there.
    let remembered = remembered_collection(&args.store)?;
    let (intra_threads, _) = thread_split(args.model.intra_threads, None);
    let resolved = resolve_model(&args.model, remembered.as_ref(), intra_threads)?;
    let mut encoder = load_encoder(global, &resolved)?;
    if encoder.dimension() != dimension {
        anyhow::bail!(
            "the model gives {}-dimensional vectors but collection `{}` holds {dimension}-dimensional ones",
            encoder.dimension(),
            args.store.collection,
        );
    }
    let loader = query_loader(&resolved, &encoder, &args.decode);
    let mut out = std::io::stdout().lock();
    let mut failed = false;
    for image in &args.images {
        let slot = match loader.load(image) {
            Ok((_, slot)) => slot,
            Err(error) => {
                eprintln!("warning: {} [{}]: {}", path_text(image), error.class, error.message);
                failed = true;
                continue;
            }
        };
        let vector = encoder.embed(&[&slot])?.pop().context("the model returned no vector")?;
        let hits = store.search(&vector, args.top)?;
        if args.json {
            let results: Vec<_> = hits
                .iter()
                .map(|hit| json!({"id": hit.id, "score": hit.score, "path": hit.payload.get("path"), "payload": hit.payload}))
                .collect();
            writeln!(out, "{}", json!({"query": path_text(image), "results": results}))?;
            continue;
        }
        if args.images.len() > 1 {
            writeln!(out, "{}:", image.display())?;
        }
        for (rank, hit) in hits.iter().enumerate() {
            let path = hit.payload.get("path").and_then(|p| p.as_str()).unwrap_or(&hit.id);
            writeln!(out, "{:>3}  {:.4}  {path}", rank + 1, hit.score)?;
        }
    }
    Ok(if failed { ExitStatus::ItemsFailed } else { ExitStatus::Success })
}
