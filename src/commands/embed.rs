//! `imbed embed`: each image's or text's vector as a JSON line.

use serde_json::json;

use super::query::{decode_options, load_text_model, model_config, text_model_config, QueryModel};
use super::{ExitStatus, Printer};
use crate::cli::{EmbedArgs, GlobalArgs};
use crate::item::path_text;

/// Prints one JSON line per image, `{"path": ..., "vector": [...]}`, then one per text,
/// `{"text": ..., "vector": [...]}`.
pub fn embed(global: &GlobalArgs, printer: Printer, args: EmbedArgs) -> anyhow::Result<ExitStatus> {
    // Both models load before anything is printed, so a bad one fails the command up front.
    let mut images = match args.images.is_empty() {
        true => None,
        false => {
            let config = model_config(&args.model, None)?;
            Some(QueryModel::load(global, &config, decode_options(&args.decode), args.model.intra_threads)?)
        }
    };
    let mut text = match args.text.is_empty() {
        true => None,
        false => Some(load_text_model(global, text_model_config(&args.text_model, None)?.as_ref(), &args.model)?),
    };
    let mut status = ExitStatus::Success;
    if let Some(images) = images.as_mut() {
        status = images.for_each_vector(&args.images, printer, |path, vector| {
            printer.result(json!({"path": path_text(path), "vector": vector})).map_err(Into::into)
        })?;
    }
    if let Some(text) = text.as_mut() {
        for words in &args.text {
            let vector = text.embed_text(words)?;
            printer.result(json!({"text": words, "vector": vector}))?;
        }
    }
    Ok(status)
}
