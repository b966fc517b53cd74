//! `imbed import`: an export (or clip-retrieval's output) into a collection of the embedded
//! store or of a server. Points keep their IDs, so importing again overwrites.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;

use super::printer::sink_json;
use super::settings::StoreSettings;
use super::{install_stop_handler, ExitStatus, Printer};
use crate::cli::ImportArgs;
use crate::export::read_export;
use crate::sink::{CollectionInfo, CollectionSetup, EdgeStore, QdrantSink, Sink};

/// Pages between flushes of the embedded store.
const FLUSH_EVERY: usize = 16;

pub fn import(printer: Printer, target: StoreSettings, args: ImportArgs) -> anyhow::Result<ExitStatus> {
    let printer = printer.with_json(args.json);
    let mut reader = read_export(&args.input, args.format, args.page as usize)?;
    let Some(first) = reader.next_page()? else {
        bail!("{} holds no points", args.input.display());
    };
    let dimension = first.first().map_or(0, |point| point.vector.len());
    if let Some(manifest) = reader.manifest.as_ref().filter(|manifest| manifest.dimension != dimension) {
        bail!("the manifest says {} dimensions, the first point has {dimension}", manifest.dimension);
    }
    let mut sink: Box<dyn Sink> = match target.server.clone() {
        Some(connection) => {
            let mut sink = QdrantSink::connect(connection, &target.collection, target.vector_name.clone())?;
            sink.open_or_create(dimension, &CollectionSetup::default())?;
            Box::new(sink)
        }
        None => {
            let info = reader.manifest.as_ref().and_then(|manifest| manifest.collection_info.clone());
            let info = info.unwrap_or_else(|| CollectionInfo {
                dimension,
                model: Default::default(),
                preprocess: None,
                output: None,
                normalize: true,
                text_model: None,
                index: None,
            });
            let info = CollectionInfo { dimension, index: None, ..info };
            Box::new(EdgeStore::open_or_create(&target.store, &target.collection, &info)?)
        }
    };
    let stop = install_stop_handler(printer);
    let reporter = printer.progress("Importing", Duration::from_secs(10));
    if let Some(manifest) = &reader.manifest {
        reporter.discovered(manifest.rows);
    }
    let started = Instant::now();
    let (mut imported, mut pages, mut page) = (0u64, 0usize, Some(first));
    let mut interrupted = false;
    while let Some(points) = page {
        if stop.load(Ordering::Relaxed) {
            interrupted = true;
            break;
        }
        imported += points.len() as u64;
        sink.ensure_space()?;
        sink.upsert(points).context("the import stopped; run it again to finish (it overwrites)")?;
        pages += 1;
        if pages % FLUSH_EVERY == 0 {
            sink.flush()?;
        }
        reporter.progressed(imported, 0);
        page = reader.next_page()?;
    }
    sink.flush()?;
    reporter.finish();
    let seconds = started.elapsed().as_secs_f64();
    let points = sink.count()?;
    if args.json {
        printer.result(json!({
            "imported": imported, "elapsed_seconds": seconds, "interrupted": interrupted,
            "sink": sink_json(sink.as_ref(), &target.collection, points),
        }))?;
    }
    printer.summary(
        format_args!(
            "Imported {imported} points in {seconds:.1}s. Collection `{}` at {} holds {points} points.",
            target.collection,
            sink.location()
        ),
        false,
    );
    if interrupted {
        printer.notice("interrupted; run the same `imbed import` again to finish (it overwrites)");
        return Ok(ExitStatus::Interrupted);
    }
    Ok(ExitStatus::Success)
}
