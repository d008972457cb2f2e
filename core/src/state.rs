//! Persistent state for checkpoints: every value a training run must save to resume
//! bit-identically (parameters, fixed data vectors, optimiser moments, learned control variates),
//! visited in a fixed order. One traversal serves both directions: a writer reads the slices it
//! is shown, a reader overwrites them.

use crate::optim::Adam;
use crate::tensors::Tensors;

/// Receives each piece of state, in order.
pub trait StateVisitor {
    /// `values` is piece `index` of the group `key`.
    fn f32s(&mut self, key: &'static str, index: usize, values: &mut [f32]);
    /// `values` is piece `index` of the group `key`.
    fn f64s(&mut self, key: &'static str, index: usize, values: &mut [f64]);
    /// `values` is piece `index` of the group `key`.
    fn u64s(&mut self, key: &'static str, index: usize, values: &mut [u64]);
}

/// Shows every tensor of `t` to the visitor under `key`.
pub fn visit_tensors<T: Tensors>(t: &mut T, key: &'static str, v: &mut dyn StateVisitor) {
    for i in 0..T::COUNT {
        v.f32s(key, i, t.tensor_mut(i));
    }
}

impl<P: Tensors> Adam<P> {
    /// Shows the moments and the step count to the visitor.
    pub fn visit_state(&mut self, key: &'static str, v: &mut dyn StateVisitor) {
        visit_tensors(&mut self.m, key, v);
        visit_tensors(&mut self.v, key, v);
        let mut t = [self.t];
        v.u64s(key, 0, &mut t);
        self.t = t[0];
        v.f64s(key, 0, &mut self.beta_powers);
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use bytemuck::Zeroable;
    use std::vec::Vec;

    /// Copies state out into a flat list, or back in from it.
    struct Flat {
        values: Vec<f64>,
        reading: bool,
        at: usize,
    }

    impl Flat {
        fn take(&mut self, n: usize) -> core::ops::Range<usize> {
            self.at += n;
            self.at - n..self.at
        }
    }

    impl StateVisitor for Flat {
        fn f32s(&mut self, _: &'static str, _: usize, x: &mut [f32]) {
            if self.reading {
                let r = self.take(x.len());
                for (d, &s) in x.iter_mut().zip(&self.values[r]) {
                    *d = s as f32;
                }
            } else {
                self.values.extend(x.iter().map(|&v| v as f64));
            }
        }
        fn f64s(&mut self, _: &'static str, _: usize, x: &mut [f64]) {
            if self.reading {
                let r = self.take(x.len());
                x.copy_from_slice(&self.values[r]);
            } else {
                self.values.extend_from_slice(x);
            }
        }
        fn u64s(&mut self, _: &'static str, _: usize, x: &mut [u64]) {
            if self.reading {
                let r = self.take(x.len());
                for (d, &s) in x.iter_mut().zip(&self.values[r]) {
                    *d = s as u64;
                }
            } else {
                self.values.extend(x.iter().map(|&v| v as f64));
            }
        }
    }

    #[test]
    fn adam_state_round_trips() {
        let mut a = Adam::<[f32; 3]>::zeroed();
        let mut p = [1.0f32, 2.0, 3.0];
        a.step(&mut p, &[0.1, -0.2, 0.3], 0.01, crate::AdamConfig::REBAR);
        let mut out = Flat { values: Vec::new(), reading: false, at: 0 };
        a.visit_state("adam", &mut out);
        let mut b = Adam::<[f32; 3]>::zeroed();
        out.reading = true;
        b.visit_state("adam", &mut out);
        assert_eq!((a.m, a.v, a.t, a.beta_powers), (b.m, b.v, b.t, b.beta_powers));
    }
}
