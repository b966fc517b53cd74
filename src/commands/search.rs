//! `imbed search`: the nearest points of the store to each query image, or to one query
//! combined from weighted texts and images, within the payload filters.

use std::path::Path;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use super::models::{load_text_model, QueryModel};
use super::settings::{GlobalSettings, ModelSettings, QueryPart, SearchSettings};
use super::{ExitStatus, Printer};
use crate::embed::combine::combine;
use crate::embed::TextEncoder;
use crate::item::path_text;
use crate::sink::{EdgeStore, QdrantSink, ScoredPoint, SearchParams, Sink};

/// One part of a combined query, with its signed weight.
struct WeightedPart {
    weight: f64,
    part: QueryPart,
}

impl WeightedPart {
    fn describe(&self) -> Value {
        let (kind, value) = match &self.part {
            QueryPart::Text(text) => ("text", json!(text)),
            QueryPart::Image(path) => ("image", json!(path_text(path))),
        };
        json!({kind: value, "weight": self.weight})
    }

    /// As typed: `"golden retriever"`, `2×"golden retriever"`, `dog.jpg`; the sign goes between parts.
    fn label(&self) -> String {
        let value = match &self.part {
            QueryPart::Text(text) => format!("{text:?}"),
            QueryPart::Image(path) => path_text(path).into_owned(),
        };
        match self.weight.abs() {
            1.0 => value,
            weight => format!("{weight}×{value}"),
        }
    }
}

pub fn search(global: &GlobalSettings, printer: Printer, settings: SearchSettings) -> anyhow::Result<ExitStatus> {
    let SearchSettings { store: target, models, images: query_images, parts, filter, min_score, top, json } = settings;
    let parts: Vec<WeightedPart> = parts.into_iter().map(|(weight, part)| WeightedPart { weight, part }).collect();
    let (store, dimension): (Box<dyn Sink>, usize) = match target.server.clone() {
        Some(connection) => {
            let mut server = QdrantSink::connect(connection, &target.collection, target.vector_name.clone())?;
            let dimension = server.open_existing()?;
            (Box::new(server), dimension)
        }
        None => {
            let store = EdgeStore::open(&target.store, &target.collection)?;
            let dimension = store.dimension();
            (Box::new(store), dimension)
        }
    };
    let wants_images = !query_images.is_empty() || parts.iter().any(|p| matches!(p.part, QueryPart::Image(_)));
    let mut images = match wants_images {
        true => Some(load_image_model(global, &models, &target.collection, dimension)?),
        false => None,
    };
    let mut text = match parts.iter().any(|p| matches!(p.part, QueryPart::Text(_))) {
        true => Some(load_text(global, &models, &target.collection, dimension)?),
        false => None,
    };
    let params = SearchParams { top, filter: &filter, min_score };
    let printer = HitPrinter { printer, json };

    if parts.is_empty() {
        let Some(images) = images.as_mut() else { bail!("nothing to search for") };
        let several = query_images.len() > 1;
        return images.for_each_vector(&query_images, printer.printer, |image, vector| {
            let hits = store.search(&vector, params)?;
            let header = several.then(|| format!("{}:", path_text(image)));
            printer.hits(json!({"query": path_text(image)}), header.as_deref(), &hits)
        });
    }

    let mut vectors = Vec::with_capacity(parts.len());
    for part in &parts {
        let vector = match (&part.part, images.as_mut(), text.as_mut()) {
            (QueryPart::Text(words), _, Some(text)) => {
                text.embed_text(words).with_context(|| format!("cannot embed the text {words:?}"))?
            }
            (QueryPart::Image(path), Some(images), _) => images
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
        [WeightedPart { weight: 1.0, part: QueryPart::Text(text) }] => text.clone(),
        [WeightedPart { weight: 1.0, part: QueryPart::Image(path) }] => path_text(path).into_owned(),
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
    global: &GlobalSettings,
    models: &ModelSettings,
    collection: &str,
    dimension: usize,
) -> anyhow::Result<QueryModel> {
    let query = QueryModel::load(global, models.image_model()?, models.image, models.intra_threads)?;
    if query.encoder.dimension() != dimension {
        bail!(
            "the model gives {}-dimensional vectors but collection `{collection}` holds {dimension}-dimensional ones",
            query.encoder.dimension(),
        );
    }
    Ok(query)
}

fn load_text(
    global: &GlobalSettings,
    models: &ModelSettings,
    collection: &str,
    dimension: usize,
) -> anyhow::Result<TextEncoder> {
    let config = models.text_model.as_ref();
    let encoder = load_text_model(global, config, models.device, models.intra_threads)?;
    if encoder.dimension() != dimension {
        bail!(
            "the text model {} gives {}-dimensional vectors but collection `{}` holds {dimension}-dimensional ones; \
             pass the text tower that belongs to the collection's image model",
            config.map_or(Path::new(""), |c| c.path.as_path()).display(),
            encoder.dimension(),
            collection,
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
