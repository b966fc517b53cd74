use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use serde_json::{Map, Value};

use crate::fetch::Remote;
use crate::item::{ErrorClass, Failure, Item};
use crate::locator::{redacted, Location, Locator, ObjectFacts};

/// Columns that name the image file or its URL, in order of preference.
const PATH_FIELDS: &[&str] = &["path", "url", "uri", "file", "image", "filename"];

/// Streams a JSONL or CSV manifest (chosen by extension; `.csv` or `.tsv` is CSV), a local
/// file or a remote object. A bad line becomes a failed item of class `manifest` naming its
/// line number; when `strict`, it is an error that ends the reading instead.
pub fn read_manifest(
    manifest: &Locator,
    strict: bool,
    remote: &Remote,
    visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
) -> anyhow::Result<ControlFlow<()>> {
    let identity = manifest.identity();
    // The extension of the path, not of a signed URL's query string.
    let name = identity.split(['?', '#']).next().unwrap_or_default();
    let extension = Path::new(name).extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    let (reader, base): (Box<dyn Read>, Base) = match manifest.location() {
        // Streamed line by line as the run takes them.
        Some(location) => {
            let reader =
                remote.open(&location).map_err(|error| anyhow::anyhow!("cannot read manifest {location}: {error}"))?;
            (Box::new(reader), Base::Remote(location))
        }
        None => {
            let path = manifest.local().unwrap_or(Path::new(""));
            let file =
                std::fs::File::open(path).with_context(|| format!("cannot open manifest {}", manifest.shown()))?;
            (Box::new(file), Base::Folder(path.parent().unwrap_or(Path::new("")).to_path_buf()))
        }
    };
    let lines = ManifestLines { manifest, base: &base, strict };
    match extension.as_str() {
        "csv" => lines.csv(reader, b',', visit),
        "tsv" => lines.csv(reader, b'\t', visit),
        _ => lines.jsonl(reader, visit),
    }
}

/// What a manifest's relative paths are relative to.
enum Base {
    Folder(PathBuf),
    /// The manifest's own location: a line's relative path is an object beside it.
    Remote(Location),
}

struct ManifestLines<'a> {
    manifest: &'a Locator,
    base: &'a Base,
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
        file: impl Read,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let mut reader = BufReader::new(file);
        let mut bytes = Vec::new();
        for number in 1.. {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .with_context(|| format!("cannot read manifest {}", self.manifest.shown()))?;
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
        file: impl Read,
        delimiter: u8,
        visit: &mut impl FnMut(Result<Item, Failure>) -> ControlFlow<()>,
    ) -> anyhow::Result<ControlFlow<()>> {
        let mut reader = csv::ReaderBuilder::new().delimiter(delimiter).from_reader(file);
        let headers = reader
            .headers()
            .with_context(|| format!("cannot read the header of manifest {}", self.manifest.shown()))?
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
            bail!("manifest {}: {} (--strict-manifest refuses bad lines)", self.manifest.shown(), failure.message);
        }
        Ok(visit(outcome))
    }

    fn item(&self, line: usize, mut fields: Map<String, Value>) -> Result<Item, Failure> {
        let Some((field, relative)) = PATH_FIELDS
            .iter()
            .find_map(|name| fields.get(*name).and_then(Value::as_str).map(|value| (*name, value.to_string())))
        else {
            return Err(self.bad_line(line, format!("no path field (one of {})", PATH_FIELDS.join(", "))));
        };
        if relative.trim().is_empty() {
            return Err(self.bad_line(line, "the path is empty".into()));
        }
        let (path, location) = self.resolve(&relative).map_err(|message| self.bad_line(line, message))?;
        let key = match fields.get("id") {
            Some(Value::String(id)) if !id.is_empty() => id.clone(),
            Some(Value::Number(id)) => id.to_string(),
            Some(Value::String(_) | Value::Null) | None => match &location {
                Some(location) => location.identity(),
                None => path.identity().into_owned(),
            },
            Some(other) => return Err(self.bad_line(line, format!("id must be a string or a number, not {other}"))),
        };
        let object = location.as_ref().map(|_| facts_of_fields(&fields)).filter(ObjectFacts::is_known);
        if let Some(location) = &location {
            // The payload and the checkpoint's fields keep the URL without its signature, so
            // that a URL signed again tomorrow is the same item with the same fields.
            fields.insert(field.to_string(), Value::String(location.identity()));
        }
        Ok(Item { key, path, fields, object, refresh_payload: false })
    }

    /// The path of a line's image, and its remote location when it has one.
    fn resolve(&self, relative: &str) -> Result<(Locator, Option<Location>), String> {
        if let Some(location) = Location::parse(relative) {
            return location.map(|location| (Locator::new(relative), Some(location)));
        }
        match self.base {
            Base::Remote(manifest) => {
                let location = manifest
                    .join(relative)
                    .ok_or_else(|| format!("cannot join {} to {manifest}", redacted(relative)))?;
                // Whole, userinfo included: an image beside a manifest behind basic auth needs it too.
                let given = match &location {
                    Location::Http(url) => url.expose().to_string(),
                    Location::Object { .. } => location.identity(),
                };
                Ok((Locator::new(given), Some(location)))
            }
            Base::Folder(folder) => {
                let path = Path::new(relative);
                Ok((Locator::new(if path.is_absolute() { path.to_path_buf() } else { folder.join(path) }), None))
            }
        }
    }

    fn bad_line(&self, line: usize, message: String) -> Failure {
        let key = format!("{}:{line}", self.manifest.identity());
        Failure {
            key,
            path: Some(self.manifest.clone()),
            class: ErrorClass::Manifest,
            message: format!("line {line}: {message}"),
        }
    }
}

/// What a manifest line says of its object (`etag`, `size_bytes` or `size`, `last_modified`),
/// so that a nightly run over presigned URLs, which refuse a HEAD, can tell what changed.
fn facts_of_fields(fields: &Map<String, Value>) -> ObjectFacts {
    let text = |name: &str| fields.get(name).and_then(Value::as_str).filter(|text| !text.is_empty());
    let size = ["size_bytes", "size"].iter().find_map(|name| match fields.get(*name) {
        Some(Value::Number(number)) => number.as_u64(),
        Some(Value::String(text)) => text.parse().ok(),
        _ => None,
    });
    let last_modified_ns = text("last_modified")
        .and_then(|text| humantime::parse_rfc3339_weak(text).ok().or_else(|| httpdate::parse_http_date(text).ok()))
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|since| since.as_nanos() as i64);
    ObjectFacts { etag: text("etag").map(str::to_string), size, last_modified_ns }
}
