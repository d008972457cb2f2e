//! A map with no parameters that outputs zeros: the slot of a map an objective never uses.

use super::{GradWrite, Net};
use crate::tensors::Tensors;
use bytemuck::Zeroable;
use rand_core::Rng;

/// No map: zero parameters, zero output. Stands where a model's objective ignores a map (the
/// structured-prediction models have no generative path between stochastic layers).
#[derive(Zeroable, Debug, Clone, Copy)]
pub struct Absent;

impl Tensors for Absent {
    const COUNT: usize = 0;
    fn tensor(&self, _: usize) -> &[f32] {
        &[]
    }
    fn tensor_mut(&mut self, _: usize) -> &mut [f32] {
        &mut []
    }
    fn write_name(_: usize, _: &mut dyn core::fmt::Write) -> core::fmt::Result {
        Ok(())
    }
}

impl<const IN: usize, const OUT: usize> Net<IN, OUT> for Absent {
    type Hidden<const B: usize> = ();
    fn init<R: Rng + ?Sized>(&mut self, _: &mut R) {}
    fn forward<const B: usize>(&self, _: &[[f32; IN]], y: &mut [[f32; OUT]], _: &mut ()) {
        y.fill([0.0; OUT]);
    }
    fn backward<const B: usize>(
        &self,
        _: &[[f32; IN]],
        _: &[[f32; OUT]],
        _: &(),
        _: &[[f32; OUT]],
        _: Option<&mut [[f32; IN]]>,
        _: Option<(&mut Self, GradWrite)>,
        _: &mut (),
    ) {
    }
    fn tangent<const B: usize>(
        &self,
        _: &[[f32; IN]],
        _: &[[f32; OUT]],
        _: &(),
        _: Option<&[[f32; IN]]>,
        _: Option<(&Self, &[f32])>,
        _: &mut [[f32; OUT]],
        _: &mut (),
    ) {
    }
    fn backward_tangent<const B: usize>(
        &self,
        _: &[[f32; OUT]],
        _: &(),
        _: &[[f32; OUT]],
        _: &(),
        _: &[[f32; OUT]],
        _: &(),
        _: &[[f32; OUT]],
        _: &mut [[f32; IN]],
        _: &mut (),
    ) {
    }
}
