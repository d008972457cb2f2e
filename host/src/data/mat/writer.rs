//! A MAT-file writer for the tests: the subset of Level 5 that `chardata.mat` uses.

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
