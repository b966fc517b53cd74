//! `imbed export`: a collection of the embedded store or of a server, scrolled in pages and
//! written as JSON lines, one parquet table, or clip-retrieval's `.npy` + parquet layout.

use std::time::{Duration, Instant};

use serde_json::json;

use super::settings::StoreSettings;
use super::{install_stop_handler, ExitStatus, Printer};
use crate::cli::ExportArgs;
use crate::export::{export as write_export, Options};
use crate::sink::{CollectionInfo, EdgeStore, QdrantSink, ReadPoints};

pub fn export(printer: Printer, collection: StoreSettings, args: ExportArgs) -> anyhow::Result<ExitStatus> {
    let printer = printer.with_json(args.json);
    let (source, info) = open_source(&collection)?;
    let options = Options {
        format: args.format,
        dir: args.output.clone(),
        rows_per_file: args.rows_per_file,
        half: args.half,
        page: args.page as usize,
        collection_info: info,
    };
    let stop = install_stop_handler(printer);
    let reporter = printer.progress("Exporting", Duration::from_secs(10));
    let started = Instant::now();
    let written = write_export(source.as_ref(), &options, reporter.as_ref(), stop);
    reporter.finish();
    let Some(manifest) = written? else {
        printer.notice("interrupted; the files written so far are complete, but the export is not (no manifest)");
        return Ok(ExitStatus::Interrupted);
    };
    let seconds = started.elapsed().as_secs_f64();
    let output = crate::util::path_text(&args.output);
    if args.json {
        printer.result(json!({
            "format": manifest.format, "rows": manifest.rows, "dimension": manifest.dimension,
            "files": manifest.files, "output": output, "elapsed_seconds": seconds,
        }))?;
    }
    printer.summary(
        format_args!(
            "Exported {} points of {} dimensions into {} files under {output} in {seconds:.1}s.",
            manifest.rows,
            manifest.dimension,
            manifest.files.len()
        ),
        false,
    );
    Ok(ExitStatus::Success)
}

/// The collection to read, with what the embedded store keeps beside it.
pub(super) fn open_source(collection: &StoreSettings) -> anyhow::Result<(Box<dyn ReadPoints>, Option<CollectionInfo>)> {
    match collection.server.clone() {
        Some(connection) => {
            let mut sink = QdrantSink::connect(connection, &collection.collection, collection.vector_name.clone())?;
            sink.open_existing()?;
            Ok((Box::new(sink), None))
        }
        None => {
            let store = EdgeStore::open(&collection.store, &collection.collection)?;
            let info = EdgeStore::read_info(&collection.store, &collection.collection)?;
            // The identity belongs to this index, not to a copy of it.
            Ok((Box::new(store), info.map(|info| CollectionInfo { index: None, ..info })))
        }
    }
}
