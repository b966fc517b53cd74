//! Payload fields as typed Arrow columns. A first pass over the collection learns each field's
//! type; a field whose values disagree (or are arrays and objects) becomes a text column of
//! JSON, marked in the field's metadata so that `import` parses it back.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, bail, Context};
use arrow_array::builder::{BooleanBuilder, Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, FixedSizeListArray, Float32Array, Float64Array, Int64Array, RecordBatch, StringArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use serde_json::{Map, Value};

use crate::sink::Point;

/// Field metadata key of a column that holds JSON text.
pub const JSON_MARK: &str = "imbed.json";
pub const ID_COLUMN: &str = "id";
pub const VECTOR_COLUMN: &str = "vector";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Only nulls seen so far.
    Null,
    Bool,
    Int,
    Float,
    Text,
    Json,
}

impl Kind {
    fn of(value: &Value) -> Self {
        match value {
            Value::Null => Self::Null,
            Value::Bool(_) => Self::Bool,
            Value::Number(number) if number.is_i64() => Self::Int,
            Value::Number(number) if number.is_f64() => Self::Float,
            Value::String(_) => Self::Text,
            // u64 beyond i64, arrays, objects.
            _ => Self::Json,
        }
    }

    fn merge(self, other: Self) -> Self {
        match (self, other) {
            (a, b) if a == b => a,
            (Self::Null, b) => b,
            (a, Self::Null) => a,
            // An int beside a float would come back as a float: keep both exactly as JSON.
            _ => Self::Json,
        }
    }
}

/// The payload fields of a collection and their types, in name order.
#[derive(Debug, Default, Clone)]
pub struct PayloadSchema {
    pub fields: BTreeMap<String, Kind>,
}

impl PayloadSchema {
    pub fn observe(&mut self, payload: &Map<String, Value>) {
        for (name, value) in payload {
            let kind = self.fields.entry(name.clone()).or_insert(Kind::Null);
            *kind = kind.merge(Kind::of(value));
        }
    }

    /// The columns: `leading` ones first, then the payload fields not named among them.
    fn arrow_fields(&self, skip: &[&str]) -> Vec<Field> {
        self.fields
            .iter()
            .filter(|(name, _)| !skip.contains(&name.as_str()))
            .map(|(name, kind)| {
                let field = Field::new(name, data_type(*kind), true);
                match kind {
                    Kind::Json => field.with_metadata(BTreeMap::from([(JSON_MARK.to_string(), "true".to_string())])),
                    _ => field,
                }
            })
            .collect()
    }

    /// `id`, then `vector` (a fixed-size list of float32) when `dimension` is given, then
    /// every payload field.
    pub fn arrow_schema(&self, dimension: Option<usize>, leading: Vec<Field>) -> SchemaRef {
        let mut fields = leading;
        fields.push(Field::new(ID_COLUMN, DataType::Utf8, false));
        if let Some(dimension) = dimension {
            fields.push(Field::new(VECTOR_COLUMN, vector_type(dimension), false));
        }
        let taken: Vec<String> = fields.iter().map(|field| field.name().clone()).collect();
        let taken: Vec<&str> = taken.iter().map(String::as_str).collect();
        fields.extend(self.arrow_fields(&taken));
        Arc::new(Schema::new(fields))
    }
}

fn data_type(kind: Kind) -> DataType {
    match kind {
        Kind::Bool => DataType::Boolean,
        Kind::Int => DataType::Int64,
        Kind::Float => DataType::Float64,
        Kind::Null | Kind::Text | Kind::Json => DataType::Utf8,
    }
}

fn vector_type(dimension: usize) -> DataType {
    DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Float32, true)), dimension as i32)
}

/// One page of points as a batch of `schema`. Columns other than `id` and `vector` are read
/// from the payload by name; `image_path` (clip-retrieval's) from the payload's `path`.
pub fn batch(schema: &SchemaRef, points: &[Point]) -> anyhow::Result<RecordBatch> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
    for field in schema.fields() {
        let name = field.name().as_str();
        let column: ArrayRef = match (name, field.data_type()) {
            (ID_COLUMN, _) => Arc::new(StringArray::from_iter_values(points.iter().map(|p| p.id.to_string()))),
            (VECTOR_COLUMN, DataType::FixedSizeList(item, dimension)) => {
                let values: Vec<f32> = points.iter().flat_map(|point| point.vector.iter().copied()).collect();
                let values = Float32Array::from(values);
                Arc::new(FixedSizeListArray::try_new(item.clone(), *dimension, Arc::new(values), None)?)
            }
            (_, data_type) => {
                let source = if name == "image_path" { "path" } else { name };
                let json = field.metadata().contains_key(JSON_MARK);
                values_column(points.iter().map(|point| point.payload.get(source)), data_type, json)?
            }
        };
        columns.push(column);
    }
    RecordBatch::try_new(schema.clone(), columns).context("cannot build a record batch")
}

fn values_column<'a>(
    values: impl Iterator<Item = Option<&'a Value>>,
    data_type: &DataType,
    json: bool,
) -> anyhow::Result<ArrayRef> {
    let values = values.map(|value| value.filter(|value| !value.is_null()));
    Ok(match data_type {
        DataType::Boolean => {
            let mut builder = BooleanBuilder::new();
            values.for_each(|value| builder.append_option(value.and_then(Value::as_bool)));
            Arc::new(builder.finish())
        }
        DataType::Int64 => {
            let mut builder = Int64Builder::new();
            values.for_each(|value| builder.append_option(value.and_then(Value::as_i64)));
            Arc::new(builder.finish())
        }
        DataType::Float64 => {
            let mut builder = Float64Builder::new();
            values.for_each(|value| builder.append_option(value.and_then(Value::as_f64)));
            Arc::new(builder.finish())
        }
        DataType::Utf8 => {
            let mut builder = StringBuilder::new();
            for value in values {
                match value {
                    Some(Value::String(text)) if !json => builder.append_value(text),
                    Some(value) => builder.append_value(value.to_string()),
                    None => builder.append_null(),
                }
            }
            Arc::new(builder.finish())
        }
        other => bail!("no column of type {other} is written"),
    })
}

/// The points of a batch read back: `id` and `vector` columns (or `vectors` given apart, for
/// clip-retrieval), every other non-null cell into the payload.
pub fn points_of(batch: &RecordBatch, vectors: Option<Vec<Vec<f32>>>) -> anyhow::Result<Vec<Point>> {
    let rows = batch.num_rows();
    let schema = batch.schema();
    let ids: Vec<uuid::Uuid> = match batch.column_by_name(ID_COLUMN) {
        Some(column) => {
            let column = column.as_any().downcast_ref::<StringArray>().context("the `id` column is not text")?;
            (0..rows)
                .map(|row| column.value(row).parse().map_err(|_| anyhow!("bad point ID `{}`", column.value(row))))
                .collect::<anyhow::Result<_>>()?
        }
        None => match batch.column_by_name("image_path").and_then(|c| c.as_any().downcast_ref::<StringArray>()) {
            // clip-retrieval's own output: the ID imbed would give the path.
            Some(paths) => (0..rows).map(|row| crate::util::point_id(paths.value(row))).collect(),
            None => bail!("no `id` column (nor clip-retrieval's `image_path`) to take point IDs from"),
        },
    };
    let mut vectors = match vectors {
        Some(vectors) => vectors,
        None => {
            let column = batch.column_by_name(VECTOR_COLUMN).context("no `vector` column")?;
            let list =
                column.as_any().downcast_ref::<FixedSizeListArray>().context("`vector` is not a fixed-size list")?;
            let values = list.values().as_any().downcast_ref::<Float32Array>().context("`vector` is not float32")?;
            let size = list.value_length() as usize;
            (0..rows).map(|row| values.values()[row * size..(row + 1) * size].to_vec()).collect()
        }
    };
    let mut payloads = vec![Map::new(); rows];
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let name = field.name().as_str();
        if name == ID_COLUMN || name == VECTOR_COLUMN || (name == "image_path" && schema.index_of("path").is_ok()) {
            continue;
        }
        let json = field.metadata().contains_key(JSON_MARK);
        for (row, payload) in payloads.iter_mut().enumerate() {
            if column.is_null(row) {
                continue;
            }
            let value = cell(column.as_ref(), row, json).with_context(|| format!("column `{name}`"))?;
            let key = if name == "image_path" { "path" } else { name };
            payload.insert(key.to_string(), value);
        }
    }
    Ok(ids
        .into_iter()
        .zip(vectors.drain(..))
        .zip(payloads)
        .map(|((id, vector), payload)| Point { id, vector, payload })
        .collect())
}

fn cell(column: &dyn Array, row: usize, json: bool) -> anyhow::Result<Value> {
    let any = column.as_any();
    if let Some(column) = any.downcast_ref::<StringArray>() {
        let text = column.value(row);
        return Ok(if json { serde_json::from_str(text)? } else { Value::String(text.to_string()) });
    }
    if let Some(column) = any.downcast_ref::<Int64Array>() {
        return Ok(column.value(row).into());
    }
    if let Some(column) = any.downcast_ref::<Float64Array>() {
        return Ok(column.value(row).into());
    }
    if let Some(column) = any.downcast_ref::<BooleanArray>() {
        return Ok(column.value(row).into());
    }
    bail!("cannot read a column of type {}", column.data_type())
}
