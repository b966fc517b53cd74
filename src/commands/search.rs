//! `imbed search`: the nearest points of the store to each query image.

use serde_json::json;

use super::query::{decode_options, model_config, remembered_collection, QueryModel};
use super::{server, ExitStatus, Printer};
use crate::cli::{GlobalArgs, SearchArgs};
use crate::item::path_text;
use crate::sink::{EdgeStore, Sink};

pub fn search(global: &GlobalArgs, printer: Printer, args: SearchArgs) -> anyhow::Result<ExitStatus> {
    let (store, dimension): (Box<dyn Sink>, usize) = match &args.store.qdrant {
        Some(url) => {
            let mut server =
                server::connect(url, &args.store.collection, args.store.vector_name.clone(), &args.store.server)?;
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
    let config = model_config(&args.model, remembered.as_ref())?;
    let mut query = QueryModel::load(global, &config, decode_options(&args.decode), args.model.intra_threads)?;
    if query.encoder.dimension() != dimension {
        anyhow::bail!(
            "the model gives {}-dimensional vectors but collection `{}` holds {dimension}-dimensional ones",
            query.encoder.dimension(),
            args.store.collection,
        );
    }
    let several = args.images.len() > 1;
    query.for_each_vector(&args.images, printer, |image, vector| {
        let hits = store.search(&vector, args.top)?;
        if args.json {
            let results: Vec<_> = hits
                .iter()
                .map(|hit| json!({"id": hit.id, "score": hit.score, "path": hit.payload.get("path"), "payload": hit.payload}))
                .collect();
            printer.result(json!({"query": path_text(image), "results": results}))?;
            return Ok(());
        }
        if several {
            printer.result(format_args!("{}:", path_text(image)))?;
        }
        for (rank, hit) in hits.iter().enumerate() {
            let path = hit.payload.get("path").and_then(|p| p.as_str()).unwrap_or(&hit.id);
            printer.result(format_args!("{:>3}  {:.4}  {path}", rank + 1, hit.score))?;
        }
        Ok(())
    })
}
