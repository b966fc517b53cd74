//! Camera RAW at preview quality: the largest JPEG the camera embedded (what photo managers
//! show), never a demosaiced image. TIFF-based RAWs (DNG, CR2, NEF, ARW, ORF, RW2, PEF, SRW)
//! keep previews in their IFDs and SubIFDs; RAF has one at a fixed header offset; CR3 (ISO
//! media) has its PRVW preview. The RAW's own orientation (IFD0, CR3's CMT1) is applied.

use image::metadata::Orientation;

use super::{DecodeError, PhotoFacts};
use crate::item::ErrorClass;

/// The preview to decode, with what the RAW says around it.
pub(super) struct Preview {
    pub jpeg: Vec<u8>,
    /// The RAW's orientation; `None` leaves the preview's own EXIF.
    pub orientation: Option<Orientation>,
    pub photo: PhotoFacts,
}

const TAG_ORIENTATION: u16 = 274;
const TAG_MAKE: u16 = 271;
const TAG_COMPRESSION: u16 = 259;
const TAG_STRIP_OFFSETS: u16 = 273;
const TAG_STRIP_BYTE_COUNTS: u16 = 279;
const TAG_SUB_IFDS: u16 = 330;
const TAG_JPEG_OFFSET: u16 = 513;
const TAG_JPEG_LENGTH: u16 = 514;
const TAG_DNG_VERSION: u16 = 50706;

/// The RAW format the first bytes (as many as are buffered) name, if any.
pub(super) fn kind(head: &[u8]) -> Option<&'static str> {
    if head.starts_with(b"FUJIFILMCCD-RAW") {
        return Some("Fujifilm RAF raw");
    }
    if head.get(4..12) == Some(b"ftypcrx ") {
        return Some("Canon CR3 raw");
    }
    let tiff = Tiff::new(head)?;
    match tiff.magic {
        0x4F52 | 0x5352 => return Some("Olympus ORF raw"),
        0x55 => return Some("Panasonic RW2 raw"),
        _ => {}
    }
    if head.get(8..10) == Some(b"CR") {
        return Some("Canon CR2 raw");
    }
    let ifd0 = tiff.ifd(tiff.first_ifd()?)?;
    let has = |tag| ifd0.iter().any(|entry| entry.tag == tag);
    if has(TAG_DNG_VERSION) {
        Some("DNG raw")
    } else if has(TAG_MAKE) && has(TAG_SUB_IFDS) {
        Some("camera raw")
    } else {
        None
    }
}

/// The payload's `format` of a RAW [`kind`].
pub(super) fn format_of(name: &str) -> &'static str {
    match name {
        "Fujifilm RAF raw" => "raf",
        "Canon CR3 raw" => "cr3",
        "Olympus ORF raw" => "orf",
        "Panasonic RW2 raw" => "rw2",
        "Canon CR2 raw" => "cr2",
        "DNG raw" => "dng",
        _ => "raw",
    }
}

/// The largest baseline or progressive JPEG preview in `data`, a whole RAW file.
pub(super) fn preview(data: &[u8], name: &str) -> Result<Preview, DecodeError> {
    let none = |why: &str| DecodeError::new(ErrorClass::Unsupported, format!("{name}: {why}"));
    let (candidates, orientation, photo) = if data.starts_with(b"FUJIFILMCCD-RAW") {
        let at = |i: usize| data.get(i..i + 4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize);
        let candidate = at(84).zip(at(88));
        (candidate.into_iter().collect(), None, PhotoFacts::default())
    } else if data.get(4..8) == Some(b"ftyp") {
        cr3(data)
    } else {
        let tiff = Tiff::new(data).ok_or_else(|| none("not a TIFF structure"))?;
        let orientation = tiff
            .first_ifd()
            .and_then(|offset| tiff.ifd(offset))
            .and_then(|ifd0| {
                ifd0.iter().find(|e| e.tag == TAG_ORIENTATION).and_then(|e| tiff.values(e).first().copied())
            })
            .and_then(|value| Orientation::from_exif(u8::try_from(value).ok()?));
        (tiff.previews(), orientation, PhotoFacts::read(data))
    };
    if candidates.iter().any(|&(offset, length)| offset.saturating_add(length) > data.len()) {
        let whole = candidates.iter().filter(|&&(offset, length)| offset.saturating_add(length) <= data.len());
        if !whole.clone().any(|&(offset, length)| jpeg_frame(&data[offset..offset + length]).is_some()) {
            return Err(DecodeError::new(ErrorClass::Truncated, format!("{name}: the file ends inside its preview")));
        }
    }
    let best = candidates
        .into_iter()
        .filter_map(|(offset, length)| data.get(offset..offset.checked_add(length)?))
        .filter_map(|jpeg| jpeg_frame(jpeg).map(|(w, h)| (u64::from(w) * u64::from(h), jpeg)))
        .max_by_key(|(pixels, _)| *pixels);
    let Some((_, jpeg)) = best else {
        return Err(none("no usable embedded JPEG preview (imbed indexes RAW files by their preview)"));
    };
    Ok(Preview { jpeg: jpeg.to_vec(), orientation, photo })
}

/// CR3: the PRVW preview, the orientation in CMT1 (IFD0) and the facts of CMT1 and CMT2.
fn cr3(data: &[u8]) -> (Vec<(usize, usize)>, Option<Orientation>, PhotoFacts) {
    let find = |name: &[u8]| data.windows(4).position(|w| w == name).filter(|&at| at >= 4);
    let box_end = |at: usize| {
        let size = data.get(at - 4..at).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)?;
        Some((at - 4).saturating_add(size).min(data.len()))
    };
    let mut candidates = Vec::new();
    if let Some(at) = find(b"PRVW") {
        let start = data[at..data.len().min(at + 64)].windows(3).position(|w| w == [0xFF, 0xD8, 0xFF]);
        if let (Some(start), Some(end)) = (start.map(|s| at + s), box_end(at)) {
            candidates.push((start, end.saturating_sub(start)));
        }
    }
    let tiff_in = |name: &[u8]| find(name).and_then(|at| Some(&data[at + 4..box_end(at)?.max(at + 4)]));
    let ifd0 = tiff_in(b"CMT1");
    let orientation = ifd0.and_then(Tiff::new).and_then(|tiff| {
        let ifd0 = tiff.ifd(tiff.first_ifd()?)?;
        let value = ifd0.iter().find(|e| e.tag == TAG_ORIENTATION).and_then(|e| tiff.values(e).first().copied())?;
        Orientation::from_exif(u8::try_from(value).ok()?)
    });
    let camera = ifd0.map(PhotoFacts::read).unwrap_or_default();
    let exif = tiff_in(b"CMT2").map(PhotoFacts::read).unwrap_or_default();
    let photo = PhotoFacts {
        taken_at: exif.taken_at,
        camera: camera.camera,
        lens: exif.lens.or(camera.lens),
        gps: tiff_in(b"CMT4").map(PhotoFacts::read).and_then(|gps| gps.gps),
    };
    (candidates, orientation, photo)
}

/// A JPEG's size from its SOF0/1/2 frame header; `None` for any other frame (a RAW's
/// lossless JPEG of sensor data is SOF3) or what is not a JPEG.
fn jpeg_frame(jpeg: &[u8]) -> Option<(u32, u32)> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut at = 2;
    loop {
        let marker = *jpeg.get(at + 1).filter(|_| jpeg.get(at) == Some(&0xFF))?;
        let length = usize::from(u16::from_be_bytes([*jpeg.get(at + 2)?, *jpeg.get(at + 3)?]));
        match marker {
            0xC0..=0xC2 => {
                let height = u16::from_be_bytes([*jpeg.get(at + 5)?, *jpeg.get(at + 6)?]);
                let width = u16::from_be_bytes([*jpeg.get(at + 7)?, *jpeg.get(at + 8)?]);
                return (width > 0 && height > 0).then_some((u32::from(width), u32::from(height)));
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF | 0xDA | 0xD9 => return None,
            _ => at += 2 + length,
        }
    }
}

struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    /// Where the 4-byte value (or its offset) lies.
    at: usize,
}

/// Just enough of TIFF to walk IFDs: byte order, offsets, SHORT and LONG values.
struct Tiff<'a> {
    data: &'a [u8],
    little: bool,
    magic: u16,
}

impl<'a> Tiff<'a> {
    fn new(data: &'a [u8]) -> Option<Self> {
        let little = match data.get(..2)? {
            b"II" => true,
            b"MM" => false,
            _ => return None,
        };
        let mut tiff = Self { data, little, magic: 0 };
        tiff.magic = tiff.u16(2)?;
        matches!(tiff.magic, 42 | 0x4F52 | 0x5352 | 0x55).then_some(tiff)
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at + 2)?.try_into().ok()?;
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at + 4)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn first_ifd(&self) -> Option<usize> {
        usize::try_from(self.u32(4)?).ok()
    }

    fn ifd(&self, offset: usize) -> Option<Vec<Entry>> {
        let count = usize::from(self.u16(offset)?);
        (0..count)
            .map(|i| {
                let at = offset + 2 + 12 * i;
                Some(Entry { tag: self.u16(at)?, kind: self.u16(at + 2)?, count: self.u32(at + 4)?, at: at + 8 })
            })
            .collect()
    }

    fn next_ifd(&self, offset: usize) -> Option<usize> {
        let count = usize::from(self.u16(offset)?);
        usize::try_from(self.u32(offset + 2 + 12 * count)?).ok().filter(|&next| next != 0)
    }

    /// SHORT or LONG values, at most 64 of them.
    fn values(&self, entry: &Entry) -> Vec<u32> {
        let size = match entry.kind {
            3 => 2,
            4 | 13 => 4,
            _ => return Vec::new(),
        };
        let count = entry.count.min(64) as usize;
        let start = if size * count <= 4 { Some(entry.at) } else { self.u32(entry.at).map(|o| o as usize) };
        let Some(start) = start else { return Vec::new() };
        (0..count)
            .map_while(|i| if size == 2 { self.u16(start + 2 * i).map(u32::from) } else { self.u32(start + 4 * i) })
            .collect()
    }

    /// (offset, length) of every JPEG an IFD points to, over the IFD chain and SubIFDs.
    fn previews(&self) -> Vec<(usize, usize)> {
        let mut pending: Vec<usize> = self.first_ifd().into_iter().collect();
        let mut seen = Vec::new();
        let mut found = Vec::new();
        while let Some(offset) = pending.pop() {
            if seen.contains(&offset) || seen.len() >= 64 {
                continue;
            }
            seen.push(offset);
            let Some(entries) = self.ifd(offset) else { continue };
            let value = |tag| entries.iter().find(|e| e.tag == tag).map(|e| self.values(e));
            if let (Some(at), Some(length)) = (value(TAG_JPEG_OFFSET), value(TAG_JPEG_LENGTH)) {
                found.extend(at.first().zip(length.first()).map(|(&a, &l)| (a as usize, l as usize)));
            }
            let jpeg_compressed = value(TAG_COMPRESSION).is_some_and(|c| matches!(c.first(), Some(6 | 7)));
            if let (true, Some(at), Some(length)) =
                (jpeg_compressed, value(TAG_STRIP_OFFSETS), value(TAG_STRIP_BYTE_COUNTS))
            {
                if at.len() == 1 && length.len() == 1 {
                    found.push((at[0] as usize, length[0] as usize));
                }
            }
            pending.extend(value(TAG_SUB_IFDS).unwrap_or_default().into_iter().map(|o| o as usize));
            pending.extend(self.next_ifd(offset));
        }
        found
    }
}
