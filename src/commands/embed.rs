//! `imbed embed`: each image's vector as a JSON line.

use serde_json::json;

use super::query::{decode_options, model_config, QueryModel};
use super::{ExitStatus, Printer};
use crate::cli::{EmbedArgs, GlobalArgs};
use crate::item::path_text;

/// Prints one JSON line per image: `{"path": ..., "vector": [...]}`.
pub fn embed(global: &GlobalArgs, printer: Printer, args: EmbedArgs) -> anyhow::Result<ExitStatus> {
    let config = model_config(&args.model, None)?;
    let mut query = QueryModel::load(global, &config, decode_options(&args.decode), args.model.intra_threads)?;
    query.for_each_vector(&args.images, printer, |path, vector| {
        printer.result(json!({"path": path_text(path), "vector": vector})).map_err(Into::into)
    })
}
