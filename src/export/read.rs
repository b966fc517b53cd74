//! `import`'s side: an export (a folder, or one `.jsonl` or `.parquet` file) read back in
//! pages of points, file after file in row order.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Lines};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};
use serde::Deserialize;

use super::npy::{self, Dtype};
use super::schema::points_of;
use super::{Format, Manifest};
use crate::sink::Point;

pub struct ExportReader {
    pub format: Format,
    pub manifest: Option<Manifest>,
    dir: PathBuf,
    files: VecDeque<PathBuf>,
    current: Option<(PathBuf, Current)>,
    page: usize,
}

enum Current {
    Jsonl(Lines<BufReader<File>>, u64),
    Parquet(ParquetRecordBatchReader),
    Clip { npy: BufReader<File>, dtype: Dtype, columns: usize, left: u64, metadata: ParquetRecordBatchReader },
}

#[derive(Deserialize)]
struct Line {
    id: uuid::Uuid,
    vector: Vec<f32>,
    #[serde(default)]
    payload: serde_json::Map<String, serde_json::Value>,
}

/// Opens the export at `path`; `format` is needed only where no manifest says it and the
/// files' names do not.
pub fn read_export(path: &Path, format: Option<Format>, page: usize) -> anyhow::Result<ExportReader> {
    let page = page.max(1);
    if path.is_file() {
        let format = match (format, path.extension().and_then(|e| e.to_str())) {
            (Some(format), _) => format,
            (None, Some("jsonl")) => Format::Jsonl,
            (None, Some("parquet")) => Format::Parquet,
            _ => bail!("cannot tell the format of {}; pass --format", path.display()),
        };
        let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
        let files = VecDeque::from([path.to_path_buf()]);
        return Ok(ExportReader { format, manifest: None, dir, files, current: None, page });
    }
    let manifest = Manifest::read(path)?;
    let format = match (&manifest, format) {
        (Some(manifest), _) => manifest.format,
        (None, Some(format)) => format,
        (None, None) if path.join("img_emb").is_dir() => Format::ClipRetrieval,
        (None, None) => bail!("{} holds no {} (an unfinished export?); pass --format", path.display(), super::MANIFEST),
    };
    let files: VecDeque<PathBuf> = match &manifest {
        Some(manifest) => manifest.files.iter().map(|file| path.join(file)).collect(),
        None => {
            let (folder, extension) = match format {
                Format::Jsonl => (path.to_path_buf(), "jsonl"),
                Format::Parquet => (path.to_path_buf(), "parquet"),
                Format::ClipRetrieval => (path.join("img_emb"), "npy"),
            };
            let mut files: Vec<PathBuf> = std::fs::read_dir(&folder)
                .with_context(|| format!("cannot read {}", folder.display()))?
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|file| file.extension().is_some_and(|e| e == extension))
                .collect();
            files.sort();
            files.into()
        }
    };
    Ok(ExportReader { format, manifest, dir: path.to_path_buf(), files, current: None, page })
}

impl ExportReader {
    /// The next page of points; `None` after the last.
    pub fn next_page(&mut self) -> anyhow::Result<Option<Vec<Point>>> {
        loop {
            if self.current.is_none() {
                let Some(file) = self.files.pop_front() else { return Ok(None) };
                let current = self.open(&file).with_context(|| format!("cannot read {}", file.display()))?;
                self.current = Some((file, current));
            }
            let Some((file, current)) = self.current.as_mut() else { continue };
            let page = read_page(current, self.page).with_context(|| format!("cannot read {}", file.display()))?;
            match page {
                Some(points) if !points.is_empty() => return Ok(Some(points)),
                _ => self.current = None,
            }
        }
    }

    fn open(&self, file: &Path) -> anyhow::Result<Current> {
        let parquet = |path: &Path| -> anyhow::Result<ParquetRecordBatchReader> {
            let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
            Ok(ParquetRecordBatchReaderBuilder::try_new(file)?.with_batch_size(self.page).build()?)
        };
        Ok(match self.format {
            Format::Jsonl => Current::Jsonl(BufReader::new(File::open(file)?).lines(), 0),
            Format::Parquet => Current::Parquet(parquet(file)?),
            Format::ClipRetrieval => {
                let mut npy = BufReader::new(File::open(file)?);
                let (dtype, left, columns) = npy::read_header(&mut npy)?;
                // img_emb/img_emb_N.npy goes with metadata/metadata_N.parquet.
                let name = file.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let number = name.trim_start_matches("img_emb_").trim_end_matches(".npy");
                let metadata = self.dir.join("metadata").join(format!("metadata_{number}.parquet"));
                Current::Clip { npy, dtype, columns, left, metadata: parquet(&metadata)? }
            }
        })
    }
}

fn read_page(current: &mut Current, page: usize) -> anyhow::Result<Option<Vec<Point>>> {
    match current {
        Current::Jsonl(lines, number) => {
            let mut points = Vec::with_capacity(page);
            while points.len() < page {
                let Some(line) = lines.next() else { break };
                *number += 1;
                let line = line?;
                if line.trim().is_empty() {
                    continue;
                }
                let line: Line = serde_json::from_str(&line).with_context(|| format!("line {number}"))?;
                points.push(Point { id: line.id, vector: line.vector, payload: line.payload });
            }
            Ok(Some(points))
        }
        Current::Parquet(reader) => match reader.next() {
            Some(batch) => Ok(Some(points_of(&batch?, None)?)),
            None => Ok(None),
        },
        Current::Clip { npy, dtype, columns, left, metadata } => {
            let Some(batch) = metadata.next() else {
                if *left > 0 {
                    bail!("{left} embeddings have no metadata row");
                }
                return Ok(None);
            };
            let batch = batch?;
            let rows = batch.num_rows() as u64;
            if rows > *left {
                bail!("the metadata has more rows than the embeddings");
            }
            let vectors = (0..rows).map(|_| npy::read_row(npy, *dtype, *columns)).collect::<Result<Vec<_>, _>>()?;
            *left -= rows;
            Ok(Some(points_of(&batch, Some(vectors))?))
        }
    }
}
