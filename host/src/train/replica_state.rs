//! A replica's learned state copied out and written back, to keep data-parallel replicas equal.

use rebar_core::state::StateVisitor;

/// A replica's learned state, copied out through [`StateVisitor`].
#[derive(Default)]
pub(super) struct SavedState {
    pub(super) f32s: Vec<f32>,
    pub(super) f64s: Vec<f64>,
    pub(super) u64s: Vec<u64>,
    pub(super) at: [usize; 3],
}

impl StateVisitor for SavedState {
    fn f32s(&mut self, _: &'static str, _: usize, values: &mut [f32]) {
        self.f32s.extend_from_slice(values);
    }
    fn f64s(&mut self, _: &'static str, _: usize, values: &mut [f64]) {
        self.f64s.extend_from_slice(values);
    }
    fn u64s(&mut self, _: &'static str, _: usize, values: &mut [u64]) {
        self.u64s.extend_from_slice(values);
    }
}

/// Writes a [`SavedState`] back, in the same order.
pub(super) struct Restore<'a>(pub(super) &'a mut SavedState);

impl StateVisitor for Restore<'_> {
    fn f32s(&mut self, _: &'static str, _: usize, values: &mut [f32]) {
        let at = &mut self.0.at[0];
        values.copy_from_slice(&self.0.f32s[*at..*at + values.len()]);
        *at += values.len();
    }
    fn f64s(&mut self, _: &'static str, _: usize, values: &mut [f64]) {
        let at = &mut self.0.at[1];
        values.copy_from_slice(&self.0.f64s[*at..*at + values.len()]);
        *at += values.len();
    }
    fn u64s(&mut self, _: &'static str, _: usize, values: &mut [u64]) {
        let at = &mut self.0.at[2];
        values.copy_from_slice(&self.0.u64s[*at..*at + values.len()]);
        *at += values.len();
    }
}
