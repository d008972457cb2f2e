//! Stack high-water mark: the RAM that `run` needs beyond the (tiny) static data.
//!
//! [`paint`] fills the free stack below the caller's frame with a pattern; after the workload,
//! [`high_water`] finds the lowest word that was overwritten. Bounds come from cortex-m-rt's
//! linker script: the stack grows down from `_stack_start` (end of RAM) to `_stack_end`.
#![allow(unsafe_code)]

const PAINT: u32 = 0x5AC1_5AC1;
/// Bytes left unpainted below the stack pointer, for `paint`'s own frame.
const MARGIN: usize = 256;

unsafe extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

fn bounds() -> (usize, usize) {
    (&raw const _stack_end as usize, &raw const _stack_start as usize)
}

/// Paints the unused stack, from `_stack_end` up to `MARGIN` bytes below the current stack
/// pointer. Call it early, from a shallow frame.
#[inline(never)]
pub fn paint() {
    let (bottom, _) = bounds();
    let end = cortex_m::register::msp::read() as usize - MARGIN;
    let mut p = bottom;
    while p < end {
        // SAFETY: [bottom, end) is RAM below every live frame (stack grows down, MARGIN bytes
        // below the current stack pointer), reserved for the stack by the linker script.
        unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
        p += 4;
    }
}

/// Bytes of stack used at the deepest point since [`paint`] (counted from the top of RAM).
pub fn high_water() -> usize {
    let (bottom, top) = bounds();
    let mut p = bottom;
    // SAFETY: [bottom, top) is the stack region of RAM, word-aligned by the linker script.
    while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
        p += 4;
    }
    top - p
}
