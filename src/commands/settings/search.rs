//! The settings of `search`: the store, the models, and the query.

use std::path::PathBuf;

use anyhow::bail;

use super::{Environment, ModelSettings, StoreSettings};
use crate::cli::{SearchArgs, Weighted};
use crate::sink::Condition;

/// One part of a combined query.
#[derive(Debug, Clone, PartialEq)]
pub enum QueryPart {
    Text(String),
    Image(PathBuf),
}

#[derive(Debug)]
pub struct SearchSettings {
    pub store: StoreSettings,
    pub models: ModelSettings,
    /// Images searched one at a time.
    pub images: Vec<PathBuf>,
    /// One combined query: each part with its signed weight.
    pub parts: Vec<(f64, QueryPart)>,
    pub filter: Vec<Condition>,
    pub min_score: Option<f32>,
    pub top: usize,
    pub json: bool,
}

impl SearchSettings {
    pub fn resolve(args: SearchArgs, env: &Environment) -> anyhow::Result<Self> {
        let weighted = |parts: &[Weighted], sign: f64, part: fn(&str) -> QueryPart| {
            parts.iter().map(move |p| (sign * p.weight, part(&p.value))).collect::<Vec<_>>()
        };
        let text: fn(&str) -> QueryPart = |value| QueryPart::Text(value.to_string());
        let image: fn(&str) -> QueryPart = |value| QueryPart::Image(PathBuf::from(value));
        let parts: Vec<(f64, QueryPart)> = [
            weighted(&args.text, 1.0, text),
            weighted(&args.image, 1.0, image),
            weighted(&args.not, -1.0, text),
            weighted(&args.not_image, -1.0, image),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !parts.is_empty() && !args.images.is_empty() {
            bail!(
                "give query images either as IMAGE arguments (one search each) or with --image (one query with the \
                 texts), not both"
            );
        }
        let store = StoreSettings::resolve(&args.store, None, env);
        // A server keeps no record of the models, so they must be named there.
        let remembered = store.remembered()?;
        let models = ModelSettings::resolve(&args.model, &args.text_model, Some(&args.decode), remembered.as_ref())?;
        Ok(Self {
            store,
            models,
            images: args.images,
            parts,
            filter: args.filter,
            min_score: args.min_score,
            top: args.top as usize,
            json: args.json,
        })
    }
}
