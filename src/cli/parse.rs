//! Value parsers with friendly errors.

use std::time::Duration;

pub(super) fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("`{text}` is not a fraction between 0 and 1")),
    }
}

/// A positive count, with an optional k, M or G suffix (thousands, millions, billions).
pub(super) fn count(text: &str) -> Result<u64, String> {
    let (number, scale) = match text.char_indices().last() {
        Some((at, 'k' | 'K')) => (&text[..at], 1e3),
        Some((at, 'm' | 'M')) => (&text[..at], 1e6),
        Some((at, 'g' | 'G')) => (&text[..at], 1e9),
        _ => (text, 1.0),
    };
    match number.trim().parse::<f64>() {
        Ok(value) if value * scale >= 1.0 && (value * scale) < u64::MAX as f64 => Ok((value * scale).round() as u64),
        _ => Err(format!("`{text}` is not a positive count such as 50000000 or 50M")),
    }
}

/// The longest wait a flag may ask for: a year. Longer ones mean a typo, and a bound keeps
/// every sum of time-outs (connect + stall, tries x ceiling) far from overflowing.
pub const MAX_SECONDS: u64 = 365 * 24 * 3600;

/// The largest size in MiB a flag may give: 16 TiB, so that every size in bytes fits in a u64
/// with room for sums.
pub const MAX_MIB: u64 = 1 << 24;

/// A positive number of seconds, at most [`MAX_SECONDS`], at least a millisecond.
pub(super) fn seconds(text: &str) -> Result<Duration, String> {
    match text.trim().parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && seconds > MAX_SECONDS as f64 => {
            Err(format!("`{text}` seconds is more than a year ({MAX_SECONDS}); give a shorter time"))
        }
        Ok(seconds) if seconds.is_finite() && seconds >= 0.001 => Ok(Duration::from_secs_f64(seconds)),
        _ => Err(format!("`{text}` is not a positive number of seconds (at least 0.001)")),
    }
}

/// A query part with its weight, from `WEIGHT:VALUE` or a bare `VALUE` (weight 1).
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub weight: f64,
    pub value: String,
}

/// The range of a query weight. Only the ratios between weights matter, and within this
/// range every weighted sum of unit vectors stays a normal, finite f32: a weight of 1e39 or
/// 1e-50 would turn a part into infinity or zero, and the query into nothing.
pub const WEIGHTS: std::ops::RangeInclusive<f64> = 1e-6..=1e6;

/// `2:golden retriever` is weight 2; a prefix before the first `:` that is not a number is
/// part of the value (`photo: beach`), and `1:` keeps a value that starts with one (`1:3:4`).
pub(super) fn weighted(text: &str) -> Result<Weighted, String> {
    let split = text.split_once(':').and_then(|(prefix, rest)| Some((prefix.trim().parse::<f64>().ok()?, rest)));
    match split {
        Some((weight, value)) if WEIGHTS.contains(&weight) => Ok(Weighted { weight, value: value.to_string() }),
        Some(_) => Err(format!(
            "`{text}`: a weight must be a number from {} to {} (subtract a part with --not or --not-image instead)",
            WEIGHTS.start(),
            WEIGHTS.end()
        )),
        None => Ok(Weighted { weight: 1.0, value: text.to_string() }),
    }
}

/// An error class by its name, as `stats` shows it; clap suggests the nearest on a typo.
pub(super) fn error_class() -> impl clap::builder::TypedValueParser<Value = crate::item::ErrorClass> {
    use crate::item::ErrorClass;
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(ErrorClass::ALL.map(ErrorClass::as_str)).try_map(|name: String| {
        ErrorClass::ALL.into_iter().find(|class| class.as_str() == name).ok_or(format!("no error class `{name}`"))
    })
}
