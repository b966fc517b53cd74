//! `export`: one pass over the payloads learns the columns' types (parquet and clip-retrieval),
//! a second writes the files, each under a temporary name until it is complete.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context;
use arrow_schema::{DataType, Field, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use serde_json::json;

use super::files::{write_whole, Atomic};
use super::npy::{self, Dtype};
use super::schema::{batch, PayloadSchema};
use super::{numbered, Format, Manifest, MANIFEST};
use crate::progress::Reporter;
use crate::sink::{each_page, CollectionInfo, Point, ReadPoints};

/// Rows per parquet row group: a group is what the writer holds in memory.
const ROW_GROUP_ROWS: usize = 8192;
const ROW_GROUP_BYTES: usize = 64 << 20;

pub struct Options {
    pub format: Format,
    pub dir: PathBuf,
    pub rows_per_file: u64,
    /// clip-retrieval embeddings as float16.
    pub half: bool,
    /// Points per scroll request.
    pub page: usize,
    pub collection_info: Option<CollectionInfo>,
}

/// Writes every point of `source` under `options.dir`; `None` when `stop` was set first
/// (the files finished so far are in place, the manifest is not).
pub fn export(
    source: &dyn ReadPoints,
    options: &Options,
    reporter: &dyn Reporter,
    stop: &AtomicBool,
) -> anyhow::Result<Option<Manifest>> {
    let dimension = source.vector_size();
    let total = source.point_count()?;
    reporter.discovered(total);
    let mut payloads = PayloadSchema::default();
    if options.format != Format::Jsonl {
        each_page(source, options.page, |points| {
            points.iter().for_each(|point| payloads.observe(&point.payload));
            Ok(if stop.load(Ordering::Relaxed) { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        })?;
    }
    let file_count = total.div_ceil(options.rows_per_file.max(1)) as usize;
    let mut writer = Writer { options, dimension, payloads, file_count, number: 0, current: None, files: Vec::new() };
    if stop.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let mut rows = 0u64;
    each_page(source, options.page, |points| {
        let mut rest = &points[..];
        while !rest.is_empty() {
            let room = writer.room()?;
            let (now, later) = rest.split_at(rest.len().min(room));
            writer.write(now)?;
            rest = later;
        }
        rows += points.len() as u64;
        reporter.progressed(rows, 0);
        Ok(if stop.load(Ordering::Relaxed) { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
    })?;
    if stop.load(Ordering::Relaxed) {
        return Ok(None);
    }
    writer.close_current()?;
    let manifest = Manifest {
        format: options.format,
        dimension,
        rows,
        files: writer.files,
        half: options.half,
        collection_info: options.collection_info.clone(),
    };
    let text = serde_json::to_vec_pretty(&manifest)?;
    write_whole(&options.dir.join(MANIFEST), &text)?;
    Ok(Some(manifest))
}

struct Writer<'a> {
    options: &'a Options,
    dimension: usize,
    payloads: PayloadSchema,
    file_count: usize,
    number: usize,
    current: Option<Open>,
    files: Vec<PathBuf>,
}

/// The file (or, for clip-retrieval, the pair of files) being written.
struct Open {
    rows: u64,
    kind: OpenKind,
}

enum OpenKind {
    Jsonl(Atomic, BufWriter<File>),
    Parquet(Atomic, ArrowWriter<File>, SchemaRef),
    Clip { npy: (Atomic, BufWriter<File>), metadata: (Atomic, ArrowWriter<File>, SchemaRef), dtype: Dtype },
}

impl Writer<'_> {
    /// Rows the open file still takes, opening the next file first when it is full.
    fn room(&mut self) -> anyhow::Result<usize> {
        let limit = self.options.rows_per_file.max(1);
        if self.current.as_ref().is_some_and(|open| open.rows >= limit) {
            self.close_current()?;
        }
        if self.current.is_none() {
            self.current = Some(self.open()?);
        }
        let rows = self.current.as_ref().map_or(0, |open| open.rows);
        Ok((limit - rows).min(usize::MAX as u64) as usize)
    }

    fn open(&mut self) -> anyhow::Result<Open> {
        let (dir, number, count) = (&self.options.dir, self.number, self.file_count.max(self.number + 1));
        self.number += 1;
        let kind = match self.options.format {
            Format::Jsonl => {
                let (atomic, file) = Atomic::create(dir.join(numbered("points", number, count, "jsonl")))?;
                OpenKind::Jsonl(atomic, BufWriter::new(file))
            }
            Format::Parquet => {
                let schema = self.payloads.arrow_schema(Some(self.dimension), Vec::new());
                let (atomic, file) = Atomic::create(dir.join(numbered("points", number, count, "parquet")))?;
                OpenKind::Parquet(atomic, parquet_writer(file, &schema)?, schema)
            }
            Format::ClipRetrieval => {
                let dtype = if self.options.half { Dtype::F16 } else { Dtype::F32 };
                let npy_path = dir.join("img_emb").join(numbered("img_emb", number, count, "npy"));
                let (atomic, file) = Atomic::create(npy_path)?;
                let mut out = BufWriter::new(file);
                out.write_all(&npy::header(dtype, 0, self.dimension))?;
                // clip-retrieval's metadata leads with `image_path`, the payload's `path`.
                let leading = vec![Field::new("image_path", DataType::Utf8, true)];
                let schema = self.payloads.arrow_schema(None, leading);
                let meta_path = dir.join("metadata").join(numbered("metadata", number, count, "parquet"));
                let (meta_atomic, meta_file) = Atomic::create(meta_path)?;
                let metadata = (meta_atomic, parquet_writer(meta_file, &schema)?, schema);
                OpenKind::Clip { npy: (atomic, out), metadata, dtype }
            }
        };
        Ok(Open { rows: 0, kind })
    }

    fn write(&mut self, points: &[Point]) -> anyhow::Result<()> {
        let Some(open) = self.current.as_mut() else { return Ok(()) };
        match &mut open.kind {
            OpenKind::Jsonl(atomic, out) => {
                for point in points {
                    let line = json!({"id": point.id, "vector": point.vector, "payload": point.payload});
                    serde_json::to_writer(&mut *out, &line)?;
                    out.write_all(b"\n").with_context(|| format!("cannot write {}", atomic.path.display()))?;
                }
            }
            OpenKind::Parquet(_, writer, schema) => writer.write(&batch(schema, points)?)?,
            OpenKind::Clip { npy: (atomic, out), metadata: (_, writer, schema), dtype } => {
                for point in points {
                    npy::write_row(out, *dtype, &point.vector)
                        .with_context(|| format!("cannot write {}", atomic.path.display()))?;
                }
                writer.write(&batch(schema, points)?)?;
            }
        }
        open.rows += points.len() as u64;
        Ok(())
    }

    fn close_current(&mut self) -> anyhow::Result<()> {
        let Some(open) = self.current.take() else { return Ok(()) };
        let relative = |path: &PathBuf| path.strip_prefix(&self.options.dir).unwrap_or(path).to_path_buf();
        match open.kind {
            OpenKind::Jsonl(atomic, out) => {
                let file = out.into_inner().map_err(|error| error.into_error())?;
                self.files.push(relative(&atomic.commit(&file)?));
            }
            OpenKind::Parquet(atomic, writer, _) => {
                let file = writer.into_inner()?;
                self.files.push(relative(&atomic.commit(&file)?));
            }
            OpenKind::Clip { npy: (atomic, out), metadata: (meta_atomic, writer, _), dtype } => {
                let mut file = out.into_inner().map_err(|error| error.into_error())?;
                npy::finish(&mut file, dtype, open.rows, self.dimension)?;
                // The metadata first: an `.npy` without its metadata would be read as complete.
                let meta_file = writer.into_inner()?;
                meta_atomic.commit(&meta_file)?;
                self.files.push(relative(&atomic.commit(&file)?));
            }
        }
        Ok(())
    }
}

fn parquet_writer(file: File, schema: &SchemaRef) -> anyhow::Result<ArrowWriter<File>> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_max_row_group_bytes(Some(ROW_GROUP_BYTES))
        .build();
    Ok(ArrowWriter::try_new(file, schema.clone(), Some(properties))?)
}
