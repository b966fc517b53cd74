use super::models::{load_text_model, QueryModel};
use super::settings::{DoctorSettings, GlobalSettings};
use super::{ExitStatus, Printer};
use crate::embed::runtime;
use crate::pipeline::ImageOptions;
use crate::sink::{EdgeStore, QdrantSink, Sink};

/// Checks each part a run needs and says what is wrong with it; exit 2 if any check fails.
pub fn doctor(global: &GlobalSettings, printer: Printer, settings: DoctorSettings) -> anyhow::Result<ExitStatus> {
    let DoctorSettings { store: target, checkpoint, remembered, model, text_model, device, intra_threads } = settings;
    let mut healthy = true;
    let mut report = |ok: bool, what: &str, detail: String| -> std::io::Result<()> {
        healthy &= ok;
        printer.result(format_args!("{} {what}: {detail}", if ok { "ok  " } else { "FAIL" }))
    };

    match runtime::load(&global.runtime) {
        Ok(runtime) => {
            let detail =
                format!("{} (version {}, found via {})", runtime.library.display(), runtime.version, runtime.found_by);
            report(true, "onnxruntime", detail)?;
            let providers = runtime.providers().map_or_else(|e| format!("unknown ({e})"), |p| p.join(", "));
            report(true, "execution providers", providers)?;
        }
        Err(error) => report(false, "onnxruntime", format!("{error:#}"))?,
    }

    // What `index` keeps beside the collection: a broken file breaks `index` and `search`.
    if let Err(error) = remembered {
        report(false, "collection info", error)?;
    }
    let mut image_dimension = None;
    if let Some(config) = model {
        let loaded = config
            .map_err(anyhow::Error::msg)
            .and_then(|config| QueryModel::load(global, &config, ImageOptions::default(), intra_threads));
        match loaded {
            Ok(QueryModel { model, encoder, .. }) => {
                image_dimension = Some(encoder.dimension());
                let (inputs, outputs) = encoder.describe();
                let (h, w) = model.preprocessor.output_size();
                let batch = encoder.static_batch().map_or("dynamic".to_string(), |n| format!("fixed at {n}"));
                let detail = format!(
                    "{} on {}: input `{}`, output `{}`, {} dimensions, {h}x{w} images, batch {batch}",
                    model.onnx.display(),
                    model.config.device,
                    encoder.input_name(),
                    encoder.output_name(),
                    encoder.dimension()
                );
                report(true, "model", detail)?;
                for line in inputs {
                    printer.result(format_args!("       input  {line}"))?;
                }
                for line in outputs {
                    printer.result(format_args!("       output {line}"))?;
                }
            }
            Err(error) => report(false, "model", format!("{error:#}"))?,
        }
    } else {
        printer.result(format_args!("-    model: none given (pass --model DIR)"))?;
    }

    match text_model {
        Ok(Some(config)) => match load_text_model(global, Some(&config), device, intra_threads) {
            Ok(encoder) => {
                let tokenizer = encoder.tokenizer();
                let padding = if tokenizer.padded() { "padded to that length" } else { "not padded" };
                let detail = format!(
                    "{}: output `{}`, {} dimensions, texts cut at {} tokens, {padding}",
                    config.path.display(),
                    encoder.output_name(),
                    encoder.dimension(),
                    tokenizer.max_length()
                );
                match image_dimension.filter(|&dimension| dimension != encoder.dimension()) {
                    Some(dimension) => report(
                        false,
                        "text model",
                        format!("{detail}; the image model gives {dimension} dimensions, so they are not a pair"),
                    )?,
                    None => report(true, "text model", detail)?,
                }
            }
            Err(error) => report(false, "text model", format!("{error:#}"))?,
        },
        Ok(None) => {
            printer.result(format_args!("-    text model: none given (pass --text-model DIR for text search)"))?
        }
        Err(error) => report(false, "text model", error)?,
    }

    let exposed = crate::checkpoint::readable_by_others(&checkpoint);
    if !exposed.is_empty() {
        let files: Vec<String> = exposed.iter().map(|file| file.display().to_string()).collect();
        printer.warning(format_args!(
            "{} can be read by other users, and a checkpoint holds the signed URLs of its items;              `chmod 600 {}` (the next run does it too)",
            files.join(", "),
            files.join(" ")
        ));
    } else if checkpoint.exists() {
        report(true, "checkpoint", format!("{} is readable by its owner only", checkpoint.display()))?;
    }

    let collection = &target.collection;
    if let Some(connection) = target.server.clone() {
        let url = connection.url.clone();
        match QdrantSink::connect(connection, collection, target.vector_name.clone()) {
            Ok(mut server) => {
                report(true, "qdrant", format!("{url} answers, version {}", server.server_version()))?;
                match server.open_existing().and_then(|dimension| Ok((dimension, server.state()?))) {
                    Ok((dimension, state)) => {
                        let detail = format!(
                            "`{collection}` is {}: {dimension} dimensions, {} points",
                            state.status, state.points
                        );
                        report(true, "collection", detail)?
                    }
                    Err(error) => printer.result(format_args!("-    collection: {error:#}"))?,
                }
            }
            Err(error) => report(false, "qdrant", format!("{error:#}"))?,
        }
        return Ok(if healthy { ExitStatus::Success } else { ExitStatus::Error });
    }

    let store_dir = EdgeStore::collection_dir(&target.store, &target.collection);
    match EdgeStore::stored_dimension(&target.store, &target.collection) {
        Ok(None) => printer.result(format_args!(
            "-    store: no collection `{}` at {} yet",
            target.collection,
            store_dir.display()
        ))?,
        Ok(Some(_)) => match EdgeStore::open(&target.store, &target.collection) {
            Ok(store) => {
                let points = store.count().map_or_else(|e| format!("unknown ({e})"), |n| n.to_string());
                let detail =
                    format!("{} opens: {} dimensions, {points} points", store_dir.display(), store.dimension());
                report(true, "store", detail)?;
            }
            Err(error) => report(false, "store", format!("{error:#}"))?,
        },
        Err(error) => report(false, "store", format!("{error:#}"))?,
    }
    Ok(if healthy { ExitStatus::Success } else { ExitStatus::Error })
}
