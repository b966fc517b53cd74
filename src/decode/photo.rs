//! The facts a photo's EXIF block gives the payload: when it was taken, with which camera and
//! lens, and where. One reader (kamadak-exif) for the blocks every decoder hands back.

use exif::{DateTime, Field, In, Reader, Tag, Value};

/// What the payload shows of a photo's EXIF.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PhotoFacts {
    /// DateTimeOriginal as RFC 3339, with OffsetTimeOriginal's offset when there is one
    /// (without it, the camera's local time with no offset, which Qdrant reads as UTC).
    pub taken_at: Option<String>,
    /// Make and model ("Canon EOS R5"; the make once when the model repeats it).
    pub camera: Option<String>,
    pub lens: Option<String>,
    /// Latitude and longitude in degrees.
    pub gps: Option<(f64, f64)>,
}

impl PhotoFacts {
    /// Reads `tiff`, the EXIF block's TIFF bytes; a block that does not parse gives nothing.
    pub fn read(tiff: &[u8]) -> Self {
        let Ok(exif) = Reader::new().read_raw(tiff.to_vec()) else {
            return Self::default();
        };
        let field = |tag| exif.get_field(tag, In::PRIMARY);
        let text = |tag| field(tag).and_then(ascii);
        let camera = match (text(Tag::Make), text(Tag::Model)) {
            (Some(make), Some(model)) if model.to_lowercase().starts_with(&make.to_lowercase()) => Some(model),
            (Some(make), Some(model)) => Some(format!("{make} {model}")),
            (make, model) => make.or(model),
        };
        let lens = text(Tag::LensModel).or_else(|| text(Tag::LensMake));
        let taken_at = field(Tag::DateTimeOriginal)
            .or_else(|| field(Tag::DateTimeDigitized))
            .and_then(|taken| taken_at(taken, field(Tag::OffsetTimeOriginal)));
        let gps = (|| {
            let lat = degrees(field(Tag::GPSLatitude)?)?;
            let lon = degrees(field(Tag::GPSLongitude)?)?;
            let south = text(Tag::GPSLatitudeRef).is_some_and(|r| r.eq_ignore_ascii_case("S"));
            let west = text(Tag::GPSLongitudeRef).is_some_and(|r| r.eq_ignore_ascii_case("W"));
            let (lat, lon) = (if south { -lat } else { lat }, if west { -lon } else { lon });
            ((-90.0..=90.0).contains(&lat) && (-180.0..=180.0).contains(&lon)).then_some((lat, lon))
        })();
        Self { taken_at, camera, lens, gps }
    }
}

/// The first ASCII value, trimmed of the NULs and spaces cameras pad with; `None` when empty.
fn ascii(field: &Field) -> Option<String> {
    let Value::Ascii(values) = &field.value else { return None };
    let text = String::from_utf8_lossy(values.first()?);
    let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
    (!text.is_empty()).then(|| text.to_string())
}

fn taken_at(taken: &Field, offset: Option<&Field>) -> Option<String> {
    let Value::Ascii(values) = &taken.value else { return None };
    let mut time = DateTime::from_ascii(values.first()?).ok()?;
    if let Some(Value::Ascii(offset)) = offset.map(|field| &field.value) {
        if let Some(offset) = offset.first() {
            let _ = time.parse_offset(offset);
        }
    }
    // "0000:00:00 00:00:00" is what cameras without a clock write.
    if time.year == 0 || !(1..=12).contains(&time.month) || !(1..=31).contains(&time.day) {
        return None;
    }
    let mut text = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
        time.year, time.month, time.day, time.hour, time.minute, time.second
    );
    if let Some(minutes) = time.offset {
        let sign = if minutes < 0 { '-' } else { '+' };
        let minutes = minutes.unsigned_abs();
        text.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
    }
    Some(text)
}

/// Degrees, minutes and seconds as three rationals.
fn degrees(field: &Field) -> Option<f64> {
    let Value::Rational(parts) = &field.value else { return None };
    let part = |i: usize| parts.get(i).filter(|r| r.denom != 0).map(|r| r.to_f64());
    let value = part(0)? + part(1).unwrap_or(0.0) / 60.0 + part(2).unwrap_or(0.0) / 3600.0;
    value.is_finite().then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use exif::experimental::Writer;

    fn block(fields: &[Field]) -> Vec<u8> {
        let mut writer = Writer::new();
        for field in fields {
            writer.push_field(field);
        }
        let mut bytes = std::io::Cursor::new(Vec::new());
        writer.write(&mut bytes, false).unwrap();
        bytes.into_inner()
    }

    fn ascii_field(tag: Tag, text: &str) -> Field {
        Field { tag, ifd_num: In::PRIMARY, value: Value::Ascii(vec![text.as_bytes().to_vec()]) }
    }

    fn dms(tag: Tag, d: u32, m: u32, s100: u32) -> Field {
        let value = Value::Rational(vec![(d, 1).into(), (m, 1).into(), (s100, 100).into()]);
        Field { tag, ifd_num: In::PRIMARY, value }
    }

    #[test]
    fn reads_time_with_offset_camera_lens_and_gps() {
        let tiff = block(&[
            ascii_field(Tag::Make, "Canon"),
            ascii_field(Tag::Model, "Canon EOS R5"),
            ascii_field(Tag::LensModel, "RF24-105mm F4 L IS USM"),
            ascii_field(Tag::DateTimeOriginal, "2024:05:06 07:08:09"),
            ascii_field(Tag::OffsetTimeOriginal, "-05:30"),
            ascii_field(Tag::GPSLatitudeRef, "S"),
            dms(Tag::GPSLatitude, 33, 51, 3600),
            ascii_field(Tag::GPSLongitudeRef, "E"),
            dms(Tag::GPSLongitude, 151, 12, 0),
        ]);
        let facts = PhotoFacts::read(&tiff);
        assert_eq!(facts.taken_at.as_deref(), Some("2024-05-06T07:08:09-05:30"));
        assert_eq!(facts.camera.as_deref(), Some("Canon EOS R5"));
        assert_eq!(facts.lens.as_deref(), Some("RF24-105mm F4 L IS USM"));
        let (lat, lon) = facts.gps.unwrap();
        assert!((lat + 33.86).abs() < 1e-9 && (lon - 151.2).abs() < 1e-9, "{lat} {lon}");
    }

    #[test]
    fn no_offset_no_clock_and_garbage() {
        let tiff = block(&[ascii_field(Tag::Make, "Apple"), ascii_field(Tag::Model, "iPhone 15")]);
        assert_eq!(PhotoFacts::read(&tiff).camera.as_deref(), Some("Apple iPhone 15"));
        let tiff = block(&[ascii_field(Tag::DateTimeOriginal, "2024:01:02 03:04:05")]);
        assert_eq!(PhotoFacts::read(&tiff).taken_at.as_deref(), Some("2024-01-02T03:04:05"));
        let tiff = block(&[ascii_field(Tag::DateTimeOriginal, "0000:00:00 00:00:00")]);
        assert_eq!(PhotoFacts::read(&tiff).taken_at, None);
        assert_eq!(PhotoFacts::read(b"not exif"), PhotoFacts::default());
    }
}
