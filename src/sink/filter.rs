//! Payload filters for searches: `FIELD=VALUE`, `FIELD>=NUMBER`, `FIELD<=NUMBER`, all ANDed.
//! Each store evaluates them itself (Qdrant Edge's filter, or the server's over gRPC), so a
//! search never fetches points to filter them here.

use std::fmt;
use std::str::FromStr;

use serde_json::{json, Value};

/// One condition on a payload field.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// The field holds this value: the text as a keyword, or the number or boolean it spells.
    Equals {
        field: String,
        value: String,
    },
    AtLeast {
        field: String,
        value: f64,
    },
    AtMost {
        field: String,
        value: f64,
    },
}

/// What a search asks of the store besides its vector.
#[derive(Debug, Clone, Copy)]
pub struct SearchParams<'a> {
    pub top: usize,
    /// ANDed; empty means every point.
    pub filter: &'a [Condition],
    /// Hits scoring below it are dropped.
    pub min_score: Option<f32>,
}

impl FromStr for Condition {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = "expected FIELD=VALUE, FIELD>=NUMBER or FIELD<=NUMBER";
        let equals = text.find('=').ok_or_else(|| format!("`{text}`: {usage}"))?;
        let (field, op) = match text[..equals].strip_suffix(['>', '<']) {
            Some(field) => (field, &text[field.len()..=equals]),
            None => (&text[..equals], "="),
        };
        let value = &text[equals + 1..];
        if field.is_empty() || field.contains(|c: char| c.is_whitespace() || "<>!=".contains(c)) {
            return Err(format!("`{text}`: `{field}` is not a payload field name; {usage}"));
        }
        let field = field.to_string();
        if op == "=" {
            if value.is_empty() {
                return Err(format!("`{text}`: no value after `=`; {usage}"));
            }
            return Ok(Self::Equals { field, value: value.to_string() });
        }
        let number = value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("`{text}`: `{value}` is not a number, and `{op}` compares numbers"))?;
        Ok(if op == ">=" { Self::AtLeast { field, value: number } } else { Self::AtMost { field, value: number } })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals { field, value } => write!(f, "{field}={value}"),
            Self::AtLeast { field, value } => write!(f, "{field}>={value}"),
            Self::AtMost { field, value } => write!(f, "{field}<={value}"),
        }
    }
}

/// What an `=` value can match: always the keyword, and the integer or boolean it spells,
/// since a payload's `width` is a number while a manifest's `id` may be the text "123".
enum Matchable {
    Keyword(String),
    Integer(i64),
    Bool(bool),
}

fn matchables(value: &str) -> Vec<Matchable> {
    let mut values = vec![Matchable::Keyword(value.to_string())];
    if let Ok(integer) = value.parse::<i64>() {
        values.push(Matchable::Integer(integer));
    } else if let Ok(boolean) = value.parse::<bool>() {
        values.push(Matchable::Bool(boolean));
    }
    values
}

/// The conditions in Qdrant's JSON filter form, which Qdrant Edge's `Filter` reads.
pub fn to_json(conditions: &[Condition]) -> Value {
    let must: Vec<Value> = conditions
        .iter()
        .map(|condition| match condition {
            Condition::Equals { field, value } => {
                let any: Vec<Value> = matchables(value)
                    .into_iter()
                    .map(|value| {
                        let value = match value {
                            Matchable::Keyword(text) => json!(text),
                            Matchable::Integer(integer) => json!(integer),
                            Matchable::Bool(boolean) => json!(boolean),
                        };
                        json!({"key": field, "match": {"value": value}})
                    })
                    .collect();
                json!({"should": any})
            }
            Condition::AtLeast { field, value } => json!({"key": field, "range": {"gte": value}}),
            Condition::AtMost { field, value } => json!({"key": field, "range": {"lte": value}}),
        })
        .collect();
    json!({"must": must})
}

/// The conditions as a gRPC filter for a Qdrant server.
pub fn to_grpc(conditions: &[Condition]) -> qdrant_client::qdrant::Filter {
    use qdrant_client::qdrant::{Condition as Grpc, Filter, Range};
    Filter::must(conditions.iter().map(|condition| match condition {
        Condition::Equals { field, value } => {
            Grpc::from(Filter::should(matchables(value).into_iter().map(|value| match value {
                Matchable::Keyword(text) => Grpc::matches(field.clone(), text),
                Matchable::Integer(integer) => Grpc::matches(field.clone(), integer),
                Matchable::Bool(boolean) => Grpc::matches(field.clone(), boolean),
            })))
        }
        Condition::AtLeast { field, value } => {
            Grpc::range(field.clone(), Range { gte: Some(*value), ..Default::default() })
        }
        Condition::AtMost { field, value } => {
            Grpc::range(field.clone(), Range { lte: Some(*value), ..Default::default() })
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Condition, String> {
        text.parse()
    }

    #[test]
    fn parses_the_three_forms() {
        assert_eq!(parse("format=jpeg"), Ok(Condition::Equals { field: "format".into(), value: "jpeg".into() }));
        assert_eq!(parse("width>=1024"), Ok(Condition::AtLeast { field: "width".into(), value: 1024.0 }));
        assert_eq!(parse("size_bytes<=1.5e6"), Ok(Condition::AtMost { field: "size_bytes".into(), value: 1.5e6 }));
        // Only the first `=` splits: the value may hold more.
        assert_eq!(parse("note=a=b"), Ok(Condition::Equals { field: "note".into(), value: "a=b".into() }));
        assert_eq!(
            parse("exif.make=Canon"),
            Ok(Condition::Equals { field: "exif.make".into(), value: "Canon".into() })
        );
    }

    #[test]
    fn malformed_filters_say_what_is_wrong() {
        for (text, says) in [
            ("format", "expected FIELD=VALUE"),
            ("=jpeg", "not a payload field name"),
            ("width>1024", "expected FIELD=VALUE"),
            ("width>=big", "not a number"),
            ("width<=", "not a number"),
            ("format=", "no value"),
            ("my field=x", "not a payload field name"),
            ("width!=3", "not a payload field name"),
            ("width>=inf", "not a number"),
        ] {
            let error = parse(text).expect_err(text);
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn numbers_and_booleans_also_match_as_keywords() {
        let filter = to_json(&[parse("width=640").unwrap(), parse("flag=true").unwrap(), parse("h>=2").unwrap()]);
        assert_eq!(
            filter,
            json!({"must": [
                {"should": [{"key": "width", "match": {"value": "640"}}, {"key": "width", "match": {"value": 640}}]},
                {"should": [{"key": "flag", "match": {"value": "true"}}, {"key": "flag", "match": {"value": true}}]},
                {"key": "h", "range": {"gte": 2.0}},
            ]})
        );
    }
}
