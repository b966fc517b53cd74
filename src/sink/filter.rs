//! Payload filters for searches: `FIELD=VALUE`, `FIELD>=NUMBER`, `FIELD<=NUMBER` (or a date or
//! RFC 3339 time in place of the number), `FIELD~LAT,LON,KM` (a geo radius), `!FIELD` (the
//! field is absent, null or empty: `!dup_of` leaves out marked duplicates), all ANDed.
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
    /// A datetime range bound (`taken_at>=2024-01-01`).
    Since {
        field: String,
        at: Moment,
    },
    Until {
        field: String,
        at: Moment,
    },
    /// A geo point within `km` of (`lat`, `lon`).
    Near {
        field: String,
        lat: f64,
        lon: f64,
        km: f64,
    },
    /// The field is absent, null or an empty list.
    Missing {
        field: String,
    },
}

/// A point in time, UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Moment {
    pub seconds: i64,
    pub nanos: i32,
}

impl Moment {
    /// `2024-01-01` (midnight UTC), `2024-01-01T12:00:00` (UTC), or with `Z` or an offset.
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let split = text.len().checked_sub(6).filter(|&at| text.is_char_boundary(at)).map(|at| text.split_at(at));
        let (local, offset_minutes) = match split {
            Some((local, offset)) if local.contains('T') && offset.starts_with(['+', '-']) => {
                let sign = if offset.starts_with('-') { -1 } else { 1 };
                let (hours, minutes) = offset[1..].split_once(':')?;
                (local, sign * (hours.parse::<i64>().ok()? * 60 + minutes.parse::<i64>().ok()?))
            }
            _ => (text, 0),
        };
        let local = if local.len() == 10 { format!("{local}T00:00:00") } else { local.to_string() };
        let time = humantime::parse_rfc3339_weak(&local).ok()?;
        let since = |time: std::time::SystemTime| time.duration_since(std::time::UNIX_EPOCH);
        let (seconds, nanos) = match since(time) {
            Ok(after) => (i64::try_from(after.as_secs()).ok()?, after.subsec_nanos()),
            Err(before) => (-i64::try_from(before.duration().as_secs_f64().ceil() as u64).ok()?, 0),
        };
        Some(Self { seconds: seconds - offset_minutes * 60, nanos: i32::try_from(nanos).ok()? })
    }

    fn rfc3339(&self) -> String {
        let epoch = std::time::UNIX_EPOCH;
        let time = match u64::try_from(self.seconds) {
            Ok(after) => epoch + std::time::Duration::new(after, self.nanos.unsigned_abs()),
            Err(_) => epoch - std::time::Duration::from_secs(self.seconds.unsigned_abs()),
        };
        humantime::format_rfc3339(time).to_string()
    }

    fn timestamp(&self) -> prost_types::Timestamp {
        prost_types::Timestamp { seconds: self.seconds, nanos: self.nanos }
    }
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
        let usage = "expected FIELD=VALUE, FIELD>=NUMBER, FIELD<=NUMBER (or a date), FIELD~LAT,LON,KM or !FIELD";
        if let Some(field) = text.strip_prefix('!') {
            if !is_field_name(field) {
                return Err(format!("`{text}`: `{field}` is not a payload field name; {usage}"));
            }
            return Ok(Self::Missing { field: field.to_string() });
        }
        if let Some((field, circle)) = text.split_once('~').filter(|(field, _)| !field.contains('=')) {
            return near(text, field, circle, usage);
        }
        let equals = text.find('=').ok_or_else(|| format!("`{text}`: {usage}"))?;
        let (field, op) = match text[..equals].strip_suffix(['>', '<']) {
            Some(field) => (field, &text[field.len()..=equals]),
            None => (&text[..equals], "="),
        };
        let value = &text[equals + 1..];
        if !is_field_name(field) {
            return Err(format!("`{text}`: `{field}` is not a payload field name; {usage}"));
        }
        let field = field.to_string();
        if op == "=" {
            if value.is_empty() {
                return Err(format!("`{text}`: no value after `=`; {usage}"));
            }
            return Ok(Self::Equals { field, value: value.to_string() });
        }
        if let Some(at) = value.contains('-').then(|| Moment::parse(value)).flatten() {
            return Ok(if op == ">=" { Self::Since { field, at } } else { Self::Until { field, at } });
        }
        let number = value.trim().parse::<f64>().ok().filter(|n| n.is_finite()).ok_or_else(|| {
            format!("`{text}`: `{value}` is not a number or a date (2024-01-31), and `{op}` compares them")
        })?;
        Ok(if op == ">=" { Self::AtLeast { field, value: number } } else { Self::AtMost { field, value: number } })
    }
}

fn is_field_name(field: &str) -> bool {
    !field.is_empty() && !field.contains(|c: char| c.is_whitespace() || "<>!=~".contains(c))
}

/// `FIELD~LAT,LON,KM`.
fn near(text: &str, field: &str, circle: &str, usage: &str) -> Result<Condition, String> {
    if !is_field_name(field) {
        return Err(format!("`{text}`: `{field}` is not a payload field name; {usage}"));
    }
    let numbers: Vec<f64> =
        circle.split(',').filter_map(|n| n.trim().parse().ok()).filter(|n: &f64| n.is_finite()).collect();
    match numbers[..] {
        [lat, lon, km] if (-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon) && km > 0.0 => {
            Ok(Condition::Near { field: field.to_string(), lat, lon, km })
        }
        _ => Err(format!("`{text}`: `~` takes LAT,LON,KM (degrees, degrees, a radius in km above 0)")),
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Equals { field, value } => write!(f, "{field}={value}"),
            Self::AtLeast { field, value } => write!(f, "{field}>={value}"),
            Self::AtMost { field, value } => write!(f, "{field}<={value}"),
            Self::Since { field, at } => write!(f, "{field}>={}", at.rfc3339()),
            Self::Until { field, at } => write!(f, "{field}<={}", at.rfc3339()),
            Self::Near { field, lat, lon, km } => write!(f, "{field}~{lat},{lon},{km}"),
            Self::Missing { field } => write!(f, "!{field}"),
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
            Condition::Since { field, at } => json!({"key": field, "range": {"gte": at.rfc3339()}}),
            Condition::Until { field, at } => json!({"key": field, "range": {"lte": at.rfc3339()}}),
            Condition::Near { field, lat, lon, km } => {
                json!({"key": field, "geo_radius": {"center": {"lat": lat, "lon": lon}, "radius": km * 1000.0}})
            }
            Condition::Missing { field } => json!({"is_empty": {"key": field}}),
        })
        .collect();
    json!({"must": must})
}

/// The conditions as a gRPC filter for a Qdrant server.
pub fn to_grpc(conditions: &[Condition]) -> qdrant_client::qdrant::Filter {
    use qdrant_client::qdrant::{Condition as Grpc, DatetimeRange, Filter, GeoPoint, GeoRadius, Range};
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
        Condition::Since { field, at } => {
            Grpc::datetime_range(field.clone(), DatetimeRange { gte: Some(at.timestamp()), ..Default::default() })
        }
        Condition::Until { field, at } => {
            Grpc::datetime_range(field.clone(), DatetimeRange { lte: Some(at.timestamp()), ..Default::default() })
        }
        Condition::Near { field, lat, lon, km } => {
            let center = Some(GeoPoint { lat: *lat, lon: *lon });
            Grpc::geo_radius(field.clone(), GeoRadius { center, radius: (*km * 1000.0) as f32 })
        }
        Condition::Missing { field } => Grpc::is_empty(field.clone()),
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
            ("taken_at>=2024-13-45", "not a number or a date"),
            ("gps~1,2", "LAT,LON,KM"),
            ("gps~91,0,5", "LAT,LON,KM"),
            ("gps~1,2,0", "LAT,LON,KM"),
            ("~1,2,3", "not a payload field name"),
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

    #[test]
    fn dates_and_geo_circles() {
        let since = parse("taken_at>=2024-01-01").unwrap();
        assert_eq!(
            since,
            Condition::Since { field: "taken_at".into(), at: Moment { seconds: 1_704_067_200, nanos: 0 } }
        );
        let until = parse("taken_at<=2024-01-01T01:00:00+02:00").unwrap();
        assert_eq!(
            until,
            Condition::Until { field: "taken_at".into(), at: Moment { seconds: 1_704_063_600, nanos: 0 } }
        );
        assert_eq!(parse("t>=2024-01-01T00:00:00Z").unwrap(), since.clone().renamed("t"));
        let near = parse("gps~48.85,2.35,10").unwrap();
        assert_eq!(near, Condition::Near { field: "gps".into(), lat: 48.85, lon: 2.35, km: 10.0 });
        assert_eq!(
            to_json(&[since, until, near]),
            json!({"must": [
                {"key": "taken_at", "range": {"gte": "2024-01-01T00:00:00Z"}},
                {"key": "taken_at", "range": {"lte": "2023-12-31T23:00:00Z"}},
                {"key": "gps", "geo_radius": {"center": {"lat": 48.85, "lon": 2.35}, "radius": 10000.0}},
            ]})
        );
        // A negative number is still a number.
        assert_eq!(parse("x>=-3"), Ok(Condition::AtLeast { field: "x".into(), value: -3.0 }));
        assert_eq!(parse("!dup_of"), Ok(Condition::Missing { field: "dup_of".into() }));
        assert!(parse("!").is_err() && parse("!a=b").is_err());
    }

    impl Condition {
        fn renamed(self, name: &str) -> Self {
            match self {
                Self::Since { at, .. } => Self::Since { field: name.into(), at },
                other => other,
            }
        }
    }
}
