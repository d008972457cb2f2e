//! A fixed, ordered list of parameter tensors: the one view of a model that Adam, per-tensor
//! control-variate scales (η), gradient statistics and checkpoints need.
//!
//! A parameter type, its gradient and the optimiser moments all share one type, so the same
//! tensor index addresses the same tensor in each of them.

use core::fmt;

/// A value made of a fixed number of `f32` tensors, addressed by index `0..COUNT`.
///
/// # Implementing
/// `tensor(i)` and `tensor_mut(i)` must return the same slice (same length, same memory) for
/// the same `i`, and an empty slice for `i >= COUNT`.
pub trait Tensors {
    /// Number of tensors.
    const COUNT: usize;

    /// Tensor `i`, flattened (empty if `i >= COUNT`).
    fn tensor(&self, i: usize) -> &[f32];

    /// Tensor `i`, flattened and mutable (empty if `i >= COUNT`).
    fn tensor_mut(&mut self, i: usize) -> &mut [f32];

    /// Writes the name of tensor `i` (e.g. `enc.w`), for reports and checkpoints.
    fn write_name(i: usize, out: &mut dyn fmt::Write) -> fmt::Result;

    /// Total number of scalars over all tensors.
    fn scalar_count(&self) -> usize {
        (0..Self::COUNT).map(|i| self.tensor(i).len()).sum()
    }

    /// Sets every scalar to zero (e.g. before accumulating a gradient).
    fn fill_zero(&mut self) {
        for i in 0..Self::COUNT {
            self.tensor_mut(i).fill(0.0);
        }
    }

    /// Copies every tensor of `other` into `self`.
    fn copy_from(&mut self, other: &Self) {
        for i in 0..Self::COUNT {
            self.tensor_mut(i).copy_from_slice(other.tensor(i));
        }
    }

    /// True if every scalar is finite (no NaN, no infinity).
    fn all_finite(&self) -> bool {
        (0..Self::COUNT).all(|i| self.tensor(i).iter().all(|v| v.is_finite()))
    }
}

/// A plain vector of `N` parameters (a bias or prior logits) is one tensor.
impl<const N: usize> Tensors for [f32; N] {
    const COUNT: usize = 1;
    fn tensor(&self, i: usize) -> &[f32] {
        if i == 0 { self } else { &[] }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i == 0 { self } else { &mut [] }
    }
    fn write_name(_: usize, _: &mut dyn fmt::Write) -> fmt::Result {
        Ok(())
    }
}

/// Writes a `.` before the first non-empty piece, so nested names read `enc.w` while a leaf
/// tensor adds nothing.
#[doc(hidden)]
pub struct Dotted<'a> {
    out: &'a mut dyn fmt::Write,
    started: bool,
}

impl<'a> Dotted<'a> {
    /// Wraps `out`.
    pub fn new(out: &'a mut dyn fmt::Write) -> Self {
        Dotted { out, started: false }
    }
}

impl fmt::Write for Dotted<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if !self.started && !s.is_empty() {
            self.started = true;
            self.out.write_str(".")?;
        }
        self.out.write_str(s)
    }
}

/// A weight matrix (nested rows) is one tensor, flattened row by row.
impl<const ROWS: usize, const COLS: usize> Tensors for [[f32; COLS]; ROWS] {
    const COUNT: usize = 1;
    fn tensor(&self, i: usize) -> &[f32] {
        if i == 0 { self.as_flattened() } else { &[] }
    }
    fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
        if i == 0 { self.as_flattened_mut() } else { &mut [] }
    }
    fn write_name(_: usize, _: &mut dyn fmt::Write) -> fmt::Result {
        Ok(())
    }
}

/// Implements [`Tensors`] for a struct by concatenating its fields' tensor lists in order:
/// index `i` goes to the field that owns it, and names get the field's prefix (`enc.w`).
macro_rules! impl_tensors_for_fields {
    ($ty:ty, [$(($field:ident, $fty:ty, $name:literal)),+ $(,)?], [$($gen:tt)*] $(where [$($bounds:tt)*])?) => {
        impl<$($gen)*> $crate::tensors::Tensors for $ty $(where $($bounds)*)? {
            const COUNT: usize = 0 $(+ <$fty as $crate::tensors::Tensors>::COUNT)+;

            fn tensor(&self, i: usize) -> &[f32] {
                let mut _i = i;
                $(
                    let c = <$fty as $crate::tensors::Tensors>::COUNT;
                    if _i < c {
                        return self.$field.tensor(_i);
                    }
                    _i -= c;
                )+
                &[]
            }

            fn tensor_mut(&mut self, i: usize) -> &mut [f32] {
                let mut _i = i;
                $(
                    let c = <$fty as $crate::tensors::Tensors>::COUNT;
                    if _i < c {
                        return self.$field.tensor_mut(_i);
                    }
                    _i -= c;
                )+
                &mut []
            }

            fn write_name(i: usize, out: &mut dyn core::fmt::Write) -> core::fmt::Result {
                let mut _i = i;
                $(
                    let c = <$fty as $crate::tensors::Tensors>::COUNT;
                    if _i < c {
                        out.write_str($name)?;
                        return <$fty as $crate::tensors::Tensors>::write_name(_i, &mut $crate::tensors::Dotted::new(out));
                    }
                    _i -= c;
                )+
                out.write_str("?")
            }
        }
    };
}
pub(crate) use impl_tensors_for_fields;
