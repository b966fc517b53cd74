use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::{Map, Value};

use crate::item::{ErrorClass, Failure, Item};

/// Columns that name the image file, in order of preference.
const PATH_FIELDS: &[&str] = &["path", "file", "image", "filename"];

/// Streams a JSONL or CSV manifest (chosen by extension; `.csv` or `.tsv` is CSV).
/// A bad line becomes a failed item of class `manifest` naming its line number.
pub fn read_manifest(
    manifest: &Path,
    visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> anyhow::Result<ControlFlow<()>> {
    let file = File::open(manifest).with_context(|| format!("cannot open manifest {}", manifest.display()))?;
    let base = manifest.parent().unwrap_or(Path::new("")).to_path_buf();
    let extension = manifest.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let reader = ManifestLines { manifest, base: &base };
    match extension.as_str() {
        "csv" => reader.csv(file, b',', visit),
        "tsv" => reader.csv(file, b'\t', visit),
        _ => reader.jsonl(file, visit),
    }
}

struct ManifestLines<'a> {
    manifest: &'a Path,
    base: &'a Path,
}

impl ManifestLines<'_> {
    fn jsonl(
        &self,
        file: File,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        for (index, line) in BufReader::new(file).lines().enumerate() {
            let line = line.with_context(|| format!("cannot read manifest {}", self.manifest.display()))?;
            if line.trim().is_empty() {
                continue;
            }
            let outcome = match serde_json::from_str::<Value>(&line) {
                Ok(Value::Object(fields)) => self.item(index + 1, fields),
                Ok(_) => Err(self.bad_line(index + 1, "expected a JSON object".into())),
                Err(error) => Err(self.bad_line(index + 1, format!("invalid JSON: {error}"))),
            };
            if visit(outcome).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn csv(
        &self,
        file: File,
        delimiter: u8,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(file);
        let headers = reader
            .headers()
            .with_context(|| format!("cannot read the header of manifest {}", self.manifest.display()))?
            .clone();
        for (index, record) in reader.records().enumerate() {
            // Line 1 is the header.
            let line = record.as_ref().ok().and_then(|r| r.position()).map_or(index + 2, |p| p.line() as usize);
            let outcome = match record {
                Ok(record) => {
                    let fields = headers
                        .iter()
                        .zip(record.iter())
                        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
                        .collect();
                    self.item(line, fields)
                }
                Err(error) => Err(self.bad_line(line, error.to_string())),
            };
            if visit(outcome).is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    fn item(&self, line: usize, fields: Map<String, Value>) -> Result<Item, Failure> {
        let Some(relative) = PATH_FIELDS.iter().find_map(|name| fields.get(*name).and_then(Value::as_str)) else {
            return Err(self.bad_line(line, format!("no path field (one of {})", PATH_FIELDS.join(", "))));
        };
        let path = self.resolve(relative);
        let key = match fields.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(_) | Value::Null) | None => path.to_string_lossy().into_owned(),
            Some(other) => return Err(self.bad_line(line, format!("id must be a string or a number, not {other}"))),
        };
        Ok(Item { key, path, fields })
    }

    fn resolve(&self, relative: &str) -> PathBuf {
        let path = Path::new(relative);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    fn bad_line(&self, line: usize, message: String) -> Failure {
        let key = format!("{}:{line}", self.manifest.display());
        Failure {
            key,
            path: Some(self.manifest.to_path_buf()),
            class: ErrorClass::Manifest,
            message: format!("line {line}: {message}"),
        }
    }
}
