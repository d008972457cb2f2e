//! The data elements of a MAT-file: the byte order, and reading one element's tag and data.

use super::MI_COMPRESSED;
use crate::data::error::{MatLocation, MatProblem};

/// The file's byte order.
#[derive(Clone, Copy, Debug)]
pub(super) enum Endian {
    Little,
    Big,
}

impl Endian {
    pub(super) fn u16(self, b: [u8; 2]) -> u16 {
        match self {
            Endian::Little => u16::from_le_bytes(b),
            Endian::Big => u16::from_be_bytes(b),
        }
    }

    /// The `u32` in the first 4 bytes of `b` (which has at least 4).
    pub(super) fn u32(self, b: &[u8]) -> u32 {
        let b = [b[0], b[1], b[2], b[3]];
        match self {
            Endian::Little => u32::from_le_bytes(b),
            Endian::Big => u32::from_be_bytes(b),
        }
    }

    /// The `u64` in the first 8 bytes of `b` (which has at least 8).
    pub(super) fn u64(self, b: &[u8]) -> u64 {
        let mut a = [0u8; 8];
        a.copy_from_slice(&b[..8]);
        match self {
            Endian::Little => u64::from_le_bytes(a),
            Endian::Big => u64::from_be_bytes(a),
        }
    }
}

/// One data element: its type code and its data (padding excluded).
pub(super) struct Element<'a> {
    pub(super) code: u32,
    pub(super) data: &'a [u8],
    /// Offset of the tag in the reader's slice.
    pub(super) at: usize,
    /// Offset of the data, counted like [`MatLocation::offset`].
    pub(super) data_at: usize,
}

/// A sequence of data elements: the file after its header, an inflated compressed element,
/// or the sub-elements of an array.
pub(super) struct Reader<'a> {
    pub(super) bytes: &'a [u8],
    pub(super) pos: usize,
    /// Offset of `bytes[0]` in the file (or in the inflated compressed element).
    pub(super) base: usize,
    /// The file offset of the compressed element `bytes` was inflated from, if any.
    pub(super) compressed_at: Option<usize>,
    pub(super) endian: Endian,
}

impl<'a> Reader<'a> {
    pub(super) fn left(&self) -> usize {
        self.bytes.len() - self.pos
    }

    /// Where offset `at` of this reader's slice is.
    pub(super) fn loc(&self, at: usize) -> MatLocation {
        MatLocation { offset: self.base + at, compressed_at: self.compressed_at }
    }

    fn truncated(&self, at: usize, what: &'static str, need: u64) -> MatProblem {
        MatProblem::Truncated { at: self.loc(at), what, need, left: (self.bytes.len() - at) as u64 }
    }

    /// Reads the next element and moves past it and its padding.
    pub(super) fn element(&mut self, what: &'static str) -> Result<Element<'a>, MatProblem> {
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
