//! NumPy's `.npy` format, written and read by hand: a magic string, a version, a header
//! length and a Python dict literal, padded to 64 bytes, then the raw little-endian values
//! (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html).

use std::io::{Read, Seek, SeekFrom, Write};

use anyhow::{bail, Context};

const MAGIC: &[u8] = b"\x93NUMPY";
/// The header is written with room for any row count, then rewritten once the count is known.
const HEADER_LEN: usize = 128;

/// One value type of a 2-D array: float32 or float16, little-endian.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F16,
}

impl Dtype {
    fn descr(self) -> &'static str {
        match self {
            Self::F32 => "<f4",
            Self::F16 => "<f2",
        }
    }

    pub fn width(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
        }
    }
}

/// The whole header of a C-order `rows` x `columns` array, `HEADER_LEN` bytes long.
pub fn header(dtype: Dtype, rows: u64, columns: usize) -> Vec<u8> {
    let dict = format!("{{'descr': '{}', 'fortran_order': False, 'shape': ({rows}, {columns}), }}", dtype.descr());
    // Magic (6), version (2) and length (2), then the dict padded with spaces and a newline.
    let mut bytes = Vec::with_capacity(HEADER_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[1, 0]);
    bytes.extend_from_slice(&((HEADER_LEN - 10) as u16).to_le_bytes());
    bytes.extend_from_slice(dict.as_bytes());
    bytes.resize(HEADER_LEN - 1, b' ');
    bytes.push(b'\n');
    bytes
}

/// Appends one row of `values` in `dtype`.
pub fn write_row(out: &mut impl Write, dtype: Dtype, values: &[f32]) -> std::io::Result<()> {
    let mut bytes = Vec::with_capacity(values.len() * dtype.width());
    for &value in values {
        match dtype {
            Dtype::F32 => bytes.extend_from_slice(&value.to_le_bytes()),
            Dtype::F16 => bytes.extend_from_slice(&half::f16::from_f32(value).to_le_bytes()),
        }
    }
    out.write_all(&bytes)
}

/// Rewrites the header at the start of `file` with the final row count.
pub fn finish(file: &mut (impl Write + Seek), dtype: Dtype, rows: u64, columns: usize) -> std::io::Result<()> {
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&header(dtype, rows, columns))?;
    file.flush()
}

/// Reads a header: the dtype and the shape of a C-order 2-D float array.
pub fn read_header(input: &mut impl Read) -> anyhow::Result<(Dtype, u64, usize)> {
    let mut start = [0u8; 10];
    input.read_exact(&mut start).context("not a .npy file")?;
    if &start[..6] != MAGIC {
        bail!("not a .npy file");
    }
    let length = match start[6] {
        1 => u16::from_le_bytes([start[8], start[9]]) as usize,
        2 | 3 => {
            let mut more = [0u8; 2];
            input.read_exact(&mut more)?;
            u32::from_le_bytes([start[8], start[9], more[0], more[1]]) as usize
        }
        version => bail!(".npy version {version} is not supported"),
    };
    let mut dict = vec![0u8; length];
    input.read_exact(&mut dict)?;
    let dict = String::from_utf8_lossy(&dict);
    let dtype = if dict.contains("'<f4'") {
        Dtype::F32
    } else if dict.contains("'<f2'") {
        Dtype::F16
    } else {
        bail!("only little-endian float32 and float16 arrays are read, not {}", dict.trim());
    };
    if dict.contains("'fortran_order': True") {
        bail!("Fortran-order arrays are not read");
    }
    let shape = dict.split("'shape':").nth(1).and_then(|rest| rest.split(')').next()).unwrap_or_default();
    let numbers: Vec<u64> = shape
        .trim_start_matches([' ', '('])
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| part.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad shape in {}", dict.trim()))?;
    match numbers[..] {
        [rows, columns] => Ok((dtype, rows, columns as usize)),
        _ => bail!("a 2-D array was expected, not shape {shape})"),
    }
}

/// Reads one row of `columns` values.
pub fn read_row(input: &mut impl Read, dtype: Dtype, columns: usize) -> std::io::Result<Vec<f32>> {
    let mut bytes = vec![0u8; columns * dtype.width()];
    input.read_exact(&mut bytes)?;
    Ok(match dtype {
        Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect(),
        Dtype::F16 => bytes.chunks_exact(2).map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_padded_to_64_and_read_back() {
        let bytes = header(Dtype::F16, 12_345_678_901, 768);
        assert_eq!(bytes.len() % 64, 0);
        assert_eq!(read_header(&mut &bytes[..]).unwrap(), (Dtype::F16, 12_345_678_901, 768));
        let mut out = header(Dtype::F32, 1, 3);
        write_row(&mut out, Dtype::F32, &[1.0, -2.5, 3.0]).unwrap();
        let mut input = &out[..];
        let (dtype, _, columns) = read_header(&mut input).unwrap();
        assert_eq!(read_row(&mut input, dtype, columns).unwrap(), [1.0, -2.5, 3.0]);
    }
}
