//! `imbed search`: the nearest points of the store to each query image, or to one query
//! combined from weighted texts and images, within the payload filters.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::query::{
    decode_options, load_text_model, model_config, remembered_collection, text_model_config, QueryModel,
};
use super::{server, ExitStatus, Printer};
use crate::cli::{GlobalArgs, SearchArgs, Weighted};
use crate::embed::combine::combine;
use crate::embed::TextEncoder;
use crate::item::path_text;
use crate::sink::{CollectionInfo, EdgeStore, ScoredPoint, SearchParams, Sink};

/// One part of a combined query, with its signed weight.
enum Part {
    Text(String),
    Image(PathBuf),
}

struct WeightedPart {
    weight: f64,
    part: Part,
}

impl WeightedPart {
    fn describe(&self) -> Value {
        let (kind, value) = match &self.part {
            Part::Text(text) => ("text", json!(text)),
            Part::Image(path) => ("image", json!(path_text(path))),
        };
        json!({kind: value, "weight": self.weight})
    }

    /// As typed: `"golden retriever"`, `2×"golden retriever"`, `dog.jpg`; the sign goes between parts.
    fn label(&self) -> String {
        let value = match &self.part {
            Part::Text(text) => format!("{text:?}"),
            Part::Image(path) => path_text(path).into_owned(),
        };
        match self.weight.abs() {
            1.0 => value,
            weight => format!("{weight}×{value}"),
        }
    }
}

fn query_parts(args: &SearchArgs) -> Vec<WeightedPart> {
    let weighted = |parts: &[Weighted], sign: f64, part: fn(&str) -> Part| {
        parts.iter().map(move |p| WeightedPart { weight: sign * p.weight, part: part(&p.value) }).collect::<Vec<_>>()
    };
    let text: fn(&str) -> Part = |value| Part::Text(value.to_string());
    let image: fn(&str) -> Part = |value| Part::Image(PathBuf::from(value));
    [
        weighted(&args.text, 1.0, text),
        weighted(&args.image, 1.0, image),
        weighted(&args.not, -1.0, text),
        weighted(&args.not_image, -1.0, image),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub fn search(global: &GlobalArgs, printer: Printer, args: SearchArgs) -> anyhow::Result<ExitStatus> {
    let parts = query_parts(&args);
    if !parts.is_empty() && !args.images.is_empty() {
        bail!(
            "give query images either as IMAGE arguments (one search each) or with --image (one query with the \
             texts), not both"
        );
    }
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
    // A server keeps no record of the models, so they must be named there.
    let remembered = remembered_collection(&args.store)?;
    let wants_images = !args.images.is_empty() || parts.iter().any(|p| matches!(p.part, Part::Image(_)));
    let mut images = match wants_images {
        true => Some(load_image_model(global, &args, remembered.as_ref(), dimension)?),
        false => None,
    };
    let mut text = match parts.iter().any(|p| matches!(p.part, Part::Text(_))) {
        true => Some(load_text(global, &args, remembered.as_ref(), dimension)?),
        false => None,
    };
    let params = SearchParams { top: args.top, filter: &args.filter, min_score: args.min_score };
    let printer = HitPrinter { printer, json: args.json };

    if parts.is_empty() {
        let Some(images) = images.as_mut() else { bail!("nothing to search for") };
        let several = args.images.len() > 1;
        return images.for_each_vector(&args.images, printer.printer, |image, vector| {
            let hits = store.search(&vector, params)?;
            let header = several.then(|| format!("{}:", path_text(image)));
            printer.hits(json!({"query": path_text(image)}), header.as_deref(), &hits)
        });
    }

    let mut vectors = Vec::with_capacity(parts.len());
    for part in &parts {
        let vector = match (&part.part, images.as_mut(), text.as_mut()) {
            (Part::Text(words), _, Some(text)) => {
                text.embed_text(words).with_context(|| format!("cannot embed the text {words:?}"))?
            }
            (Part::Image(path), Some(images), _) => images
                .embed_image(path)
                .map_err(|why| anyhow::anyhow!("cannot use the query image {} {why}", path_text(path)))?,
            _ => bail!("no model loaded for a query part"),
        };
        vectors.push((part.weight as f32, vector));
    }
    let weighted: Vec<(f32, &[f32])> = vectors.iter().map(|(weight, vector)| (*weight, vector.as_slice())).collect();
    let query = combine(&weighted)?;
    let hits = store.search(&query, params)?;
    let label: String = match parts.as_slice() {
        // One plain part reads as image search's query does: the text or the path itself.
        [WeightedPart { weight: 1.0, part: Part::Text(text) }] => text.clone(),
        [WeightedPart { weight: 1.0, part: Part::Image(path) }] => path_text(path).into_owned(),
        _ => label(&parts),
    };
    let described: Vec<Value> = parts.iter().map(WeightedPart::describe).collect();
    printer.hits(json!({"query": label, "parts": described}), None, &hits)?;
    Ok(ExitStatus::Success)
}

/// The parts as one line: `2×"golden retriever" + dog.jpg − "indoors"`.
fn label(parts: &[WeightedPart]) -> String {
    parts
        .iter()
        .enumerate()
        .map(|(i, part)| {
            let sign = match (i, part.weight < 0.0) {
                (0, false) => "",
                (0, true) => "−",
                (_, false) => " + ",
                (_, true) => " − ",
            };
            format!("{sign}{}", part.label())
        })
        .collect()
}

fn load_image_model(
    global: &GlobalArgs,
    args: &SearchArgs,
    remembered: Option<&CollectionInfo>,
    dimension: usize,
) -> anyhow::Result<QueryModel> {
    let config = model_config(&args.model, remembered)?;
    let query = QueryModel::load(global, &config, decode_options(&args.decode), args.model.intra_threads)?;
    if query.encoder.dimension() != dimension {
        bail!(
            "the model gives {}-dimensional vectors but collection `{}` holds {dimension}-dimensional ones",
            query.encoder.dimension(),
            args.store.collection,
        );
    }
    Ok(query)
}

fn load_text(
    global: &GlobalArgs,
    args: &SearchArgs,
    remembered: Option<&CollectionInfo>,
    dimension: usize,
) -> anyhow::Result<TextEncoder> {
    let config = text_model_config(&args.text_model, remembered)?;
    let encoder = load_text_model(global, config.as_ref(), &args.model)?;
    if encoder.dimension() != dimension {
        bail!(
            "the text model {} gives {}-dimensional vectors but collection `{}` holds {dimension}-dimensional ones; \
             pass the text tower that belongs to the collection's image model",
            config.as_ref().map_or(Path::new(""), |c| c.path.as_path()).display(),
            encoder.dimension(),
            args.store.collection,
        );
    }
    Ok(encoder)
}

/// Hits as `rank score path` lines, or one JSON object per query.
#[derive(Clone, Copy)]
struct HitPrinter {
    printer: Printer,
    json: bool,
}

impl HitPrinter {
    /// `query` holds the JSON fields that describe the query; `header`, a line above the hits.
    fn hits(&self, query: Value, header: Option<&str>, hits: &[ScoredPoint]) -> anyhow::Result<()> {
        if self.json {
            let results: Vec<_> = hits
                .iter()
                .map(|hit| json!({"id": hit.id, "score": hit.score, "path": hit.payload.get("path"), "payload": hit.payload}))
                .collect();
            let mut line = query;
            line["results"] = json!(results);
            self.printer.result(line)?;
            return Ok(());
        }
        if let Some(header) = header {
            self.printer.result(header)?;
        }
        for (rank, hit) in hits.iter().enumerate() {
            let path = hit.payload.get("path").and_then(|p| p.as_str()).unwrap_or(&hit.id);
            self.printer.result(format_args!("{:>3}  {:.4}  {path}", rank + 1, hit.score))?;
        }
        Ok(())
    }
}
