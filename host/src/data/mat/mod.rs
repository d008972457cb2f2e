//! A minimal reader of MATLAB Level 5 MAT-files: enough for real numeric matrices such as
//! those of Omniglot's `chardata.mat` (see [`omniglot`](super::omniglot)).
//!
//! # The format
//!
//! (MathWorks, "MAT-File Format", the Level 5 chapter.) A file is a 128-byte header — 116
//! bytes of text, 8 bytes of subsystem offset, a 2-byte version (0x0100) and a 2-byte endian
//! indicator, `IM` in a little-endian file and `MI` in a big-endian one — followed by data
//! elements. Every element is an 8-byte tag (a `u32` data type and a `u32` byte count) and its
//! data, padded to a multiple of 8 bytes; an element of at most 4 bytes may instead pack the
//! type and count into the tag's first 4 bytes (type in the low 16 bits, count in the high 16)
//! and its data into the other 4 (the "small data element" form). Top-level elements are
//! either `miMATRIX` (type 14), an array, or `miCOMPRESSED` (type 15), whose zlib stream
//! inflates to one `miMATRIX` element and which is not padded.
//!
//! An `miMATRIX` element holds sub-elements: array flags (`miUINT32`: the class in the low
//! byte, the complex flag 0x0800), dimensions (`miINT32`), the name (`miINT8`), and for a
//! numeric class the real part, column-major, in any numeric storage type — MATLAB stores a
//! double array whose values are small integers as `miUINT8`, for instance; the values are
//! converted here to `f64` whatever their storage.
//!
//! # What is supported
//!
//! Both byte orders; compressed (MAT v7) and uncompressed (v6) variables; real numeric
//! arrays of every class (double, single, int8 … uint64, logical). Other variables (cell
//! arrays, structs, sparse or complex matrices, character arrays) may be in the file but are
//! an error when asked for. HDF5-based v7.3 files are refused with a message saying so.
//!
//! Every size field is checked against the bytes that remain before anything is allocated
//! from it, a compressed element may inflate to at most
//! [`MAX_DECOMPRESSED_BYTES`], and every malformed input is a
//! [`DataError::Mat`] naming the file, the place and the problem.
//!
//! ```no_run
//! use rebar_host::data::mat;
//!
//! let bytes = std::fs::read("chardata.mat")?;
//! let [train, test] = mat::read_matrices(&bytes, "chardata.mat", ["data", "testdata"])?;
//! println!("`data` is {:?} and `testdata` {:?}", train.dims, test.dims); // [784, 24345] [784, 8070]
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod element;
#[cfg(test)]
mod tests;
#[cfg(test)]
pub(crate) mod writer;

use std::io::Read;

use super::error::{MatLocation, MatProblem};
use super::{DataError, MAX_DECOMPRESSED_BYTES};
use element::{Element, Endian, Reader};

/// Bytes of the file header.
const HEADER_BYTES: usize = 128;

// Data type codes of the tags.
const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;
const MI_UTF8: u32 = 16;

/// The complex bit of the array flags.
const FLAG_COMPLEX: u32 = 0x0800;

/// A real numeric array read from a MAT-file.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Matrix {
    /// The variable's name.
    pub name: String,
    /// The dimensions, at least two (MATLAB's `size`): rows, columns, ….
    pub dims: Vec<usize>,
    /// The values, column-major as MATLAB stores them (element `(i, j)` of a 2-D array is
    /// `data[i + j·rows]`), converted to `f64` from whatever type the file stores.
    pub data: Vec<f64>,
}

/// Reads the real numeric variables `names` from the MAT-file contents `bytes`, in the order
/// asked; `file` names the file in errors. Variables not asked for are skipped once their
/// name is read (a compressed one is inflated for that). If a name occurs twice, the later
/// variable wins, as with `scipy.io.loadmat`.
pub fn read_matrices<const N: usize>(bytes: &[u8], file: &str, names: [&str; N]) -> Result<[Matrix; N], DataError> {
    read(bytes, names).map_err(|problem| DataError::Mat { file: file.to_string(), problem })
}

fn read<const N: usize>(bytes: &[u8], names: [&str; N]) -> Result<[Matrix; N], MatProblem> {
    let endian = header(bytes)?;
    let mut found: [Option<Matrix>; N] = std::array::from_fn(|_| None);
    let mut seen = Vec::new();
    let mut top = Reader { bytes, pos: HEADER_BYTES, base: 0, compressed_at: None, endian };
    while top.left() > 0 {
        let el = top.element("top-level data element")?;
        let inflated;
        let matrix = match el.code {
            MI_MATRIX => Reader { bytes: el.data, pos: 0, base: el.data_at, compressed_at: None, endian },
            MI_COMPRESSED => {
                inflated = inflate(el.data, top.loc(el.at))?;
                // The inflated stream holds one miMATRIX element; anything after it is ignored,
                // as scipy does.
                let mut inner = Reader { bytes: &inflated, pos: 0, base: 0, compressed_at: Some(el.at), endian };
                let m = inner.element("compressed variable")?;
                expect_code(&m, inner.loc(m.at), "compressed variable", &[MI_MATRIX], "miMATRIX (14)")?;
                Reader { bytes: m.data, pos: 0, base: m.data_at, compressed_at: Some(el.at), endian }
            }
            _ => {
                return Err(wrong_type(
                    &el,
                    top.loc(el.at),
                    "top-level data element",
                    "miMATRIX (14) or miCOMPRESSED (15)",
                ));
            }
        };
        if let Some((name, matrix)) = matrix_element(matrix, &names)? {
            if let Some((i, m)) = matrix {
                found[i] = Some(m);
            }
            seen.push(name);
        }
    }
    if let Some(i) = found.iter().position(Option::is_none) {
        return Err(MatProblem::MissingVariable { name: names[i].to_string(), found: seen });
    }
    Ok(found.map(Option::unwrap_or_default))
}

/// Checks the 128-byte header and returns the file's byte order.
fn header(bytes: &[u8]) -> Result<Endian, MatProblem> {
    if bytes.len() < HEADER_BYTES {
        return Err(MatProblem::TooShort { len: bytes.len() });
    }
    let endian = match &bytes[126..128] {
        b"IM" => Endian::Little,
        b"MI" => Endian::Big,
        other => return Err(MatProblem::BadEndian { found: String::from_utf8_lossy(other).into_owned() }),
    };
    let version = endian.u16([bytes[124], bytes[125]]);
    if version != 0x0100 {
        return Err(MatProblem::Version { found: version });
    }
    Ok(endian)
}

/// Inflates a compressed element's zlib stream, at most [`MAX_DECOMPRESSED_BYTES`].
fn inflate(data: &[u8], at: MatLocation) -> Result<Vec<u8>, MatProblem> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(data)
        .take(MAX_DECOMPRESSED_BYTES.saturating_add(1))
        .read_to_end(&mut out)
        .map_err(|source| MatProblem::Zlib { at, source })?;
    if out.len() as u64 > MAX_DECOMPRESSED_BYTES {
        return Err(MatProblem::TooLarge { at, limit: MAX_DECOMPRESSED_BYTES });
    }
    Ok(out)
}

/// The contents of an `miMATRIX` element: `None` if it is empty (MATLAB writes empty
/// elements for some placeholders), otherwise its name and, if the name is one of `names`,
/// its index there and the matrix — or an error if that variable is not a real numeric matrix.
fn matrix_element(mut r: Reader<'_>, names: &[&str]) -> Result<Option<(String, Option<(usize, Matrix)>)>, MatProblem> {
    if r.left() == 0 {
        return Ok(None);
    }
    let flags = r.element("array flags")?;
    expect_code(&flags, r.loc(flags.at), "array flags", &[MI_UINT32], "miUINT32 (6)")?;
    if flags.data.len() != 8 {
        return Err(MatProblem::Truncated {
            at: r.loc(flags.at),
            what: "array flags",
            need: 8,
            left: flags.data.len() as u64,
        });
    }
    let word = r.endian.u32(flags.data);
    let (class, complex) = (word & 0xff, word & FLAG_COMPLEX != 0);

    let dims_el = r.element("dimensions")?;
    expect_code(&dims_el, r.loc(dims_el.at), "dimensions", &[MI_INT32], "miINT32 (5)")?;
    check_multiple(&dims_el, r.loc(dims_el.at), "dimensions", 4)?;
    let dims: Vec<i64> = dims_el.data.chunks_exact(4).map(|c| i64::from(r.endian.u32(c) as i32)).collect();

    let name_el = r.element("array name")?;
    expect_code(&name_el, r.loc(name_el.at), "array name", &[MI_INT8, MI_UINT8, MI_UTF8], "miINT8 (1)")?;
    let name = String::from_utf8_lossy(name_el.data).into_owned();
    let Some(index) = names.iter().position(|&n| n == name) else {
        return Ok(Some((name, None)));
    };

    let kind = match class {
        6..=15 if complex => "complex matrix",
        6..=15 => "",
        1 => "cell array",
        2 => "struct",
        3 => "object",
        4 => "character array",
        5 => "sparse matrix",
        _ => "array of an unknown class",
    };
    if !kind.is_empty() {
        return Err(MatProblem::NotNumeric { name, kind: kind.into() });
    }
    let dims = checked_dims(&dims).map_err(|why| MatProblem::BadDimensions { name: name.clone(), dims, why })?;
    let real = r.element("real part")?;
    let values = numeric(&real, r.loc(real.at), r.endian)?;
    // The product cannot overflow: checked_dims checked it.
    let expected: u64 = dims.iter().map(|&d| d as u64).product();
    if values.len() as u64 != expected {
        let shown = dims.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("×");
        return Err(MatProblem::SizeMismatch { name, dims: shown, expected, found: values.len() as u64 });
    }
    Ok(Some((name.clone(), Some((index, Matrix { name, dims, data: values })))))
}

/// The dimensions as sizes, or why they are unusable.
fn checked_dims(dims: &[i64]) -> Result<Vec<usize>, &'static str> {
    if dims.len() < 2 {
        return Err("an array has at least two");
    }
    let dims: Vec<usize> =
        dims.iter().map(|&d| usize::try_from(d)).collect::<Result<_, _>>().map_err(|_| "negative")?;
    // The product is compared with the values actually stored; it must not overflow first.
    dims.iter().try_fold(1u64, |p, &d| p.checked_mul(d as u64)).ok_or("their product overflows")?;
    Ok(dims)
}

/// A numeric element's values as `f64`.
fn numeric(el: &Element<'_>, at: MatLocation, endian: Endian) -> Result<Vec<f64>, MatProblem> {
    let size = match el.code {
        MI_INT8 | MI_UINT8 => 1,
        MI_INT16 | MI_UINT16 => 2,
        MI_INT32 | MI_UINT32 | MI_SINGLE => 4,
        MI_DOUBLE | MI_INT64 | MI_UINT64 => 8,
        _ => return Err(wrong_type(el, at, "real part", "a numeric type")),
    };
    check_multiple(el, at, "real part", size)?;
    let d = el.data;
    Ok(match el.code {
        MI_INT8 => d.iter().map(|&b| f64::from(b as i8)).collect(),
        MI_UINT8 => d.iter().map(|&b| f64::from(b)).collect(),
        MI_INT16 => d.chunks_exact(2).map(|c| f64::from(endian.u16([c[0], c[1]]) as i16)).collect(),
        MI_UINT16 => d.chunks_exact(2).map(|c| f64::from(endian.u16([c[0], c[1]]))).collect(),
        MI_INT32 => d.chunks_exact(4).map(|c| f64::from(endian.u32(c) as i32)).collect(),
        MI_UINT32 => d.chunks_exact(4).map(|c| f64::from(endian.u32(c))).collect(),
        MI_SINGLE => d.chunks_exact(4).map(|c| f64::from(f32::from_bits(endian.u32(c)))).collect(),
        MI_DOUBLE => d.chunks_exact(8).map(|c| f64::from_bits(endian.u64(c))).collect(),
        // 64-bit integers beyond 2⁵³ round to the nearest double.
        MI_INT64 => d.chunks_exact(8).map(|c| endian.u64(c) as i64 as f64).collect(),
        _ => d.chunks_exact(8).map(|c| endian.u64(c) as f64).collect(),
    })
}

/// Fails unless `el.code` is one of `accepted`.
fn expect_code(
    el: &Element<'_>,
    at: MatLocation,
    what: &'static str,
    accepted: &[u32],
    expected: &'static str,
) -> Result<(), MatProblem> {
    if accepted.contains(&el.code) { Ok(()) } else { Err(wrong_type(el, at, what, expected)) }
}

/// The error for an element of the wrong type: unknown codes are named as such.
fn wrong_type(el: &Element<'_>, at: MatLocation, what: &'static str, expected: &'static str) -> MatProblem {
    if matches!(el.code, 1..=7 | 9 | 12..=18) {
        MatProblem::UnexpectedType { at, what, found: el.code, expected }
    } else {
        MatProblem::UnknownType { at, code: el.code }
    }
}

fn check_multiple(el: &Element<'_>, at: MatLocation, what: &'static str, size: usize) -> Result<(), MatProblem> {
    if el.data.len().is_multiple_of(size) {
        Ok(())
    } else {
        Err(MatProblem::Ragged { at, what, bytes: el.data.len() as u32, size })
    }
}
