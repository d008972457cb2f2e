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

use std::io::Read;

use super::error::{MatLocation, MatProblem};
use super::{DataError, MAX_DECOMPRESSED_BYTES};

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

/// The file's byte order.
#[derive(Clone, Copy, Debug)]
enum Endian {
    Little,
    Big,
}

impl Endian {
    fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    /// The `u32` in the first 4 bytes of `b` (which has at least 4).
    fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    /// The `u64` in the first 8 bytes of `b` (which has at least 8).
    fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        }
    }
}

/// One data element: its type code and its data (padding excluded).
struct Element<'a> {
    code: u32,
    data: &'a [u8],
    /// Offset of the tag in the reader's slice.
    at: usize,
    /// Offset of the data, counted like [`MatLocation::offset`].
    data_at: usize,
}

/// A sequence of data elements: the file after its header, an inflated compressed element,
/// or the sub-elements of an array.
struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    /// Offset of `bytes[0]` in the file (or in the inflated compressed element).
    base: usize,
    /// The file offset of the compressed element `bytes` was inflated from, if any.
    compressed_at: Option<usize>,
    endian: Endian,
}

impl<'a> Reader<'a> {
    fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Where offset `at` of this reader's slice is.
    fn loc(&self, at: usize) -> MatLocation {
        MatLocation { offset: self.base + at, compressed_at: self.compressed_at }
    }

    fn truncated(&self, at: usize, what: &'static str, need: u64) -> MatProblem {
        MatProblem::Truncated { at: self.loc(at), what, need, left: (self.bytes.len() - at) as u64 }
    }

    /// Reads the next element and moves past it and its padding.
    fn element(&mut self, what: &'static str) -> Result<Element<'a>, MatProblem> {
        let at = self.pos;
        if self.left() < 8 {
            return Err(self.truncated(at, what, 8));
        }
        let word = self.endian.u32(&self.bytes[at..]);
        if word >> 16 != 0 {
            // Small data element: type and count in one word, data in the next four bytes.
            let (code, n) = (word & 0xffff, (word >> 16) as usize);
            if n > 4 {
                return Err(MatProblem::BadSmallElement { at: self.loc(at), what, bytes: n });
            }
            self.pos += 8;
            return Ok(Element { code, data: &self.bytes[at + 4..at + 4 + n], at, data_at: self.base + at + 4 });
        }
        let n = self.endian.u32(&self.bytes[at + 4..]) as usize;
        if n > self.left() - 8 {
            return Err(self.truncated(at, what, 8 + n as u64));
        }
        let data = &self.bytes[at + 8..at + 8 + n];
        // The data is padded to a multiple of 8 bytes (counted from the element's start: a
        // compressed element, which is not padded, leaves the next one unaligned in the file);
        // a writer may leave the padding off after the last element.
        let padded = if word == MI_COMPRESSED { n } else { n.next_multiple_of(8) };
        self.pos = (at + 8 + padded).min(self.bytes.len());
        Ok(Element { code: word, data, at, data_at: self.base + at + 8 })
    }
}

/// A MAT-file writer for the tests: the subset of Level 5 that `chardata.mat` uses.
#[cfg(test)]
pub(crate) mod writer {
    use std::io::Write;

    use super::*;

    /// How a variable's values are stored.
    #[derive(Clone, Copy)]
    pub(crate) enum Storage {
        /// Class double, stored as `miDOUBLE`.
        Double,
        /// Class double, stored as `miUINT8` (as MATLAB does when every value fits).
        Uint8,
        /// Class single, stored as `miSINGLE`.
        Single,
    }

    /// One variable to write.
    pub(crate) struct Var<'a> {
        pub(crate) name: &'a str,
        pub(crate) dims: &'a [i32],
        /// Column-major.
        pub(crate) values: &'a [f64],
        pub(crate) storage: Storage,
        /// Written as an `miCOMPRESSED` element.
        pub(crate) compressed: bool,
    }

    /// Writes a whole MAT-file, little- or big-endian.
    pub(crate) fn write_mat(vars: &[Var<'_>], big_endian: bool) -> Vec<u8> {
        let e = if big_endian { Endian::Big } else { Endian::Little };
        let mut out = format!("{:<116}", "MATLAB 5.0 MAT-file, written by the rebar tests").into_bytes();
        out.extend_from_slice(&[0; 8]);
        out.extend_from_slice(&e.bytes_u16(0x0100));
        out.extend_from_slice(if big_endian { b"MI" } else { b"IM" });
        for v in vars {
            let matrix = matrix(v, e);
            if v.compressed {
                let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
                z.write_all(&matrix).unwrap();
                let z = z.finish().unwrap();
                out.extend_from_slice(&e.bytes_u32(MI_COMPRESSED));
                out.extend_from_slice(&e.bytes_u32(z.len() as u32));
                out.extend_from_slice(&z);
            } else {
                out.extend_from_slice(&matrix);
            }
        }
        out
    }

    /// The `miMATRIX` element of `v`, tag included.
    pub(super) fn matrix(v: &Var<'_>, e: Endian) -> Vec<u8> {
        let class = match v.storage {
            Storage::Double | Storage::Uint8 => 6,
            Storage::Single => 7,
        };
        let mut body = element(MI_UINT32, &[e.bytes_u32(class), [0; 4]].concat(), e);
        body.extend(element(MI_INT32, &v.dims.iter().flat_map(|&d| e.bytes_u32(d as u32)).collect::<Vec<_>>(), e));
        body.extend(element(MI_INT8, v.name.as_bytes(), e));
        let (code, data): (u32, Vec<u8>) = match v.storage {
            Storage::Double => (MI_DOUBLE, v.values.iter().flat_map(|x| e.bytes_u64(x.to_bits())).collect()),
            Storage::Uint8 => (MI_UINT8, v.values.iter().map(|&x| x as u8).collect()),
            Storage::Single => (MI_SINGLE, v.values.iter().flat_map(|&x| e.bytes_u32((x as f32).to_bits())).collect()),
        };
        body.extend(element(code, &data, e));
        element(MI_MATRIX, &body, e)
    }

    /// One element, in the small form if it fits in 4 bytes, padded to 8 bytes.
    pub(super) fn element(code: u32, data: &[u8], e: Endian) -> Vec<u8> {
        let mut out = Vec::new();
        if data.len() <= 4 && code != MI_MATRIX {
            out.extend_from_slice(&e.bytes_u32(code | (data.len() as u32) << 16));
            out.extend_from_slice(data);
        } else {
            out.extend_from_slice(&e.bytes_u32(code));
            out.extend_from_slice(&e.bytes_u32(data.len() as u32));
            out.extend_from_slice(data);
        }
        out.resize(out.len().next_multiple_of(8), 0);
        out
    }

    impl Endian {
        fn bytes_u16(self, x: u16) -> [u8; 2] {
            match self {
                Endian::Little => x.to_le_bytes(),
                Endian::Big => x.to_be_bytes(),
            }
        }

        fn bytes_u32(self, x: u32) -> [u8; 4] {
            match self {
                Endian::Little => x.to_le_bytes(),
                Endian::Big => x.to_be_bytes(),
            }
        }

        fn bytes_u64(self, x: u64) -> [u8; 8] {
            match self {
                Endian::Little => x.to_le_bytes(),
                Endian::Big => x.to_be_bytes(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::writer::{Storage, Var, element, matrix, write_mat};
    use super::*;

    fn var<'a>(name: &'a str, dims: &'a [i32], values: &'a [f64], storage: Storage, compressed: bool) -> Var<'a> {
        Var { name, dims, values, storage, compressed }
    }

    fn problem(bytes: &[u8], names: [&str; 1]) -> String {
        let e = read_matrices(bytes, "x.mat", names).unwrap_err();
        assert!(matches!(e, DataError::Mat { .. }));
        let e = e.to_string();
        assert!(e.starts_with("x.mat: "), "{e}");
        e
    }

    /// A file header followed by raw element bytes.
    fn with_header(elements: &[u8]) -> Vec<u8> {
        let mut out = write_mat(&[], false);
        out.extend_from_slice(elements);
        out
    }

    #[test]
    fn reads_every_storage_both_byte_orders_compressed_or_not() {
        let values = [0.0, 1.0, 2.0, 255.0, 7.0, 3.0];
        for big in [false, true] {
            for compressed in [false, true] {
                for storage in [Storage::Double, Storage::Uint8, Storage::Single] {
                    let bytes = write_mat(
                        &[
                            var("skipped", &[1, 1], &[9.0], storage, compressed),
                            var("a", &[2, 3], &values, storage, compressed),
                        ],
                        big,
                    );
                    let [a] = read_matrices(&bytes, "x.mat", ["a"]).unwrap();
                    assert_eq!(a, Matrix { name: "a".into(), dims: vec![2, 3], data: values.to_vec() });
                }
            }
        }
    }

    #[test]
    fn reads_a_small_data_element_and_non_integer_doubles() {
        // One uint8 value: the real part is a small element (4-byte tag form).
        let bytes = write_mat(&[var("one", &[1, 1], &[200.0], Storage::Uint8, false)], false);
        assert_eq!(read_matrices(&bytes, "x.mat", ["one"]).unwrap()[0].data, [200.0]);
        let v = [0.125, -3.5, 1e-300];
        let bytes = write_mat(&[var("v", &[3, 1], &v, Storage::Double, true)], true);
        assert_eq!(read_matrices(&bytes, "x.mat", ["v"]).unwrap()[0].data, v);
    }

    #[test]
    fn a_later_variable_of_the_same_name_wins() {
        let bytes = write_mat(
            &[var("a", &[1, 1], &[1.0], Storage::Double, false), var("a", &[1, 1], &[2.0], Storage::Double, true)],
            false,
        );
        assert_eq!(read_matrices(&bytes, "x.mat", ["a"]).unwrap()[0].data, [2.0]);
    }

    #[test]
    fn unknown_and_unexpected_types_are_errors() {
        let e = problem(&with_header(&element(11, &[0; 8], Endian::Little)), ["a"]);
        assert!(e.contains("unknown data type 11 at byte 128"), "{e}");
        let e = problem(&with_header(&element(MI_DOUBLE, &[0; 8], Endian::Little)), ["a"]);
        assert!(e.contains("top-level data element at byte 128 has data type 9"), "{e}");
    }

    /// An miMATRIX element with the given class, flags and real-part element.
    fn raw_matrix(flags: u32, dims: &[i32], real: &[u8]) -> Vec<u8> {
        let e = Endian::Little;
        let mut body = element(MI_UINT32, &[flags.to_le_bytes(), [0; 4]].concat(), e);
        body.extend(element(MI_INT32, &dims.iter().flat_map(|d| d.to_le_bytes()).collect::<Vec<_>>(), e));
        body.extend(element(MI_INT8, b"a", e));
        body.extend_from_slice(real);
        element(MI_MATRIX, &body, e)
    }

    #[test]
    fn non_numeric_variables_are_errors_when_asked_for() {
        let real = element(MI_DOUBLE, &1f64.to_le_bytes(), Endian::Little);
        for (flags, kind) in
            [(1, "cell array"), (5, "sparse matrix"), (4, "character array"), (6 | FLAG_COMPLEX, "complex matrix")]
        {
            let bytes = with_header(&raw_matrix(flags, &[1, 1], &real));
            let e = problem(&bytes, ["a"]);
            assert!(e.contains(&format!("variable `a` is a {kind}")), "{e}");
            // Not asked for: skipped.
            assert!(problem(&bytes, ["b"]).contains("no variable `b` (the file holds: a)"));
        }
    }

    #[test]
    fn size_and_dimension_mismatches_are_errors() {
        let real = element(MI_DOUBLE, &[0; 16], Endian::Little);
        let e = problem(&with_header(&raw_matrix(6, &[2, 3], &real)), ["a"]);
        assert!(e.contains("`a` is 2×3 = 6 values but stores 2"), "{e}");
        let e = problem(&with_header(&raw_matrix(6, &[-1, 2], &real)), ["a"]);
        assert!(e.contains("dimensions [-1, 2]: negative"), "{e}");
        let e = problem(&with_header(&raw_matrix(6, &[2], &real)), ["a"]);
        assert!(e.contains("at least two"), "{e}");
        let ragged = element(MI_DOUBLE, &[0; 12], Endian::Little);
        let e = problem(&with_header(&raw_matrix(6, &[1, 1], &ragged)), ["a"]);
        assert!(e.contains("holds 12 bytes, not a multiple of 8"), "{e}");
    }

    #[test]
    fn size_fields_beyond_the_data_are_errors_not_allocations() {
        // A top-level element claiming 4 GiB - 1 bytes.
        let mut el = MI_MATRIX.to_le_bytes().to_vec();
        el.extend_from_slice(&u32::MAX.to_le_bytes());
        el.extend_from_slice(&[0; 8]);
        let e = problem(&with_header(&el), ["a"]);
        assert!(e.contains("truncated at byte 128") && e.contains("needs 4294967303 bytes, 16 remain"), "{e}");
        // A real part claiming more than its matrix holds.
        let mut m = matrix(&var("a", &[1, 1], &[1.0], Storage::Double, false), Endian::Little);
        let n = m.len();
        m[n - 12..n - 8].copy_from_slice(&1000u32.to_le_bytes());
        let e = problem(&with_header(&m), ["a"]);
        assert!(e.contains("real part needs 1008 bytes, 16 remain"), "{e}");
        // A small element claiming more than 4 bytes.
        let mut m = matrix(&var("a", &[1, 1], &[1.0], Storage::Uint8, false), Endian::Little);
        let n = m.len();
        m[n - 8..n - 4].copy_from_slice(&(MI_UINT8 | 7 << 16).to_le_bytes());
        let e = problem(&with_header(&m), ["a"]);
        assert!(e.contains("small data element of 7 bytes"), "{e}");
    }

    #[test]
    fn errors_inside_a_compressed_element_say_so() {
        let m = raw_matrix(6, &[2, 3], &element(MI_DOUBLE, &[0; 16], Endian::Little));
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut z, &m[..m.len() - 8]).unwrap();
        let z = z.finish().unwrap();
        let mut el = MI_COMPRESSED.to_le_bytes().to_vec();
        el.extend_from_slice(&(z.len() as u32).to_le_bytes());
        el.extend_from_slice(&z);
        let e = problem(&with_header(&el), ["a"]);
        assert!(e.contains("of the inflated compressed element at byte 128"), "{e}");
    }
}
