use std::fs::File;
use std::io::{BufRead, BufReader};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::item::{path_text, ErrorClass, Failure, Item};

/// Columns that name the image file, in order of preference.
const PATH_FIELDS: &[&str] = &["path", "file", "image", "filename"];

/// Streams a JSONL or CSV manifest (chosen by extension; `.csv` or `.tsv` is CSV).
/// A bad line becomes a failed item of class `manifest` naming its line number; when `strict`,
/// it is an error that ends the reading instead.
pub fn read_manifest(
    manifest: &Path,
    strict: bool,
    visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> anyhow::Result<ControlFlow<()>> {
    let file = File::open(manifest).with_context(|| format!("cannot open manifest {}", manifest.display()))?;
    let base = manifest.parent().unwrap_or(Path::new("")).to_path_buf();
    let extension = manifest.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let reader = ManifestLines { manifest, base: &base, strict };
    match extension.as_str() {
        "csv" => reader.csv(file, b',', visit),
        "tsv" => reader.csv(file, b'\t', visit),
        _ => reader.jsonl(file, visit),
    }
}

struct ManifestLines<'a> {
    manifest: &'a Path,
    base: &'a Path,
    strict: bool,
}

/// The csv crate's messages repeat the position that `bad_line` already names.
fn describe_csv_error(error: &csv::Error) -> String {
    match error.kind() {
        csv::ErrorKind::UnequalLengths { expected_len, len, .. } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { err, .. } => format!("not valid UTF-8 ({err})"),
        _ => error.to_string(),
    }
}

impl ManifestLines<'_> {
    fn jsonl(
        &self,
        file: File,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let mut reader = BufReader::new(file);
        let mut bytes = Vec::new();
        for number in 1.. {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .with_context(|| format!("cannot read manifest {}", self.manifest.display()))?;
            if read == 0 {
                break;
            }
            // Bytes, not `lines()`: one line that is not UTF-8 fails alone instead of the manifest.
            let outcome = match std::str::from_utf8(&bytes).map(|line| line.trim_start_matches('\u{feff}')) {
                Err(error) => Err(self.bad_line(number, format!("not valid UTF-8 ({error})"))),
                Ok(line) if line.trim().is_empty() => continue,
                Ok(line) => match serde_json::from_str::<Value>(line) {
                    Ok(Value::Object(fields)) => self.item(number, fields),
                    Ok(_) => Err(self.bad_line(number, "expected a JSON object".into())),
                    Err(error) => Err(self.bad_line(number, format!("invalid JSON: {error}"))),
                },
            };
            if self.emit(outcome, visit)?.is_break() {
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
            // Line 1 is the header; a quoted field may span lines, so ask the reader.
            let position = match &record {
                Ok(record) => record.position(),
                Err(error) => error.position(),
            };
            let line = position.map_or(index + 2, |p| p.line() as usize);
            let outcome = match record {
                Ok(record) => {
                    let fields = headers
                        .iter()
                        .zip(record.iter())
                        .map(|(name, value)| (name.to_string(), Value::String(value.to_string())))
                        .collect();
                    self.item(line, fields)
                }
                Err(error) => Err(self.bad_line(line, describe_csv_error(&error))),
            };
            if self.emit(outcome, visit)?.is_break() {
                return Ok(ControlFlow::Break(()));
            }
        }
        Ok(ControlFlow::Continue(()))
    }

    /// Passes one line's outcome on; with --strict-manifest a bad line is an error instead.
    fn emit(
        &self,
        outcome: Result<Item, Failure>,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        if let (true, Err(failure)) = (self.strict, &outcome) {
            bail!("manifest {}: {} (--strict-manifest refuses bad lines)", self.manifest.display(), failure.message);
        }
        Ok(visit(outcome))
    }

    fn item(&self, line: usize, fields: Map<String, Value>) -> Result<Item, Failure> {
        let Some(relative) = PATH_FIELDS.iter().find_map(|name| fields.get(*name).and_then(Value::as_str)) else {
            return Err(self.bad_line(line, format!("no path field (one of {})", PATH_FIELDS.join(", "))));
        };
        if relative.trim().is_empty() {
            return Err(self.bad_line(line, "the path is empty".into()));
        }
        let path = self.resolve(relative);
        let key = match fields.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(_) | Value::Null) | None => path_text(&path).into_owned(),
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
        let key = format!("{}:{line}", path_text(self.manifest));
        Failure {
            key,
            path: Some(self.manifest.to_path_buf()),
            class: ErrorClass::Manifest,
            message: format!("line {line}: {message}"),
        }
    }
}
