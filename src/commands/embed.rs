//! `imbed embed`: each image's or text's vector as a JSON line.

use serde_json::json;

use super::models::{load_text_model, QueryModel};
use super::settings::{EmbedSettings, GlobalSettings};
use super::{ExitStatus, Printer};
use crate::item::path_text;

/// Prints one JSON line per image, `{"path": ..., "vector": [...]}`, then one per text,
/// `{"text": ..., "vector": [...]}`.
pub fn embed(global: &GlobalSettings, printer: Printer, settings: EmbedSettings) -> anyhow::Result<ExitStatus> {
    let EmbedSettings { models, images, texts } = settings;
    // Both models load before anything is printed, so a bad one fails the command up front.
    let mut image_model = match images.is_empty() {
        true => None,
        false => Some(QueryModel::load(global, models.image_model()?, models.image, models.intra_threads)?),
    };
    let mut text_model = match texts.is_empty() {
        true => None,
        false => Some(load_text_model(global, models.text_model.as_ref(), models.device, models.intra_threads)?),
    };
    let mut status = ExitStatus::Success;
    if let Some(image_model) = image_model.as_mut() {
        status = image_model.for_each_vector(&images, printer, |path, vector| {
            printer.result(json!({"path": path_text(path), "vector": vector})).map_err(Into::into)
        })?;
    }
    if let Some(text_model) = text_model.as_mut() {
        for words in &texts {
            let vector = text_model.embed_text(words)?;
            printer.result(json!({"text": words, "vector": vector}))?;
        }
    }
    Ok(status)
}
