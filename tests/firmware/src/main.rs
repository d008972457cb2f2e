//! rebar firmware for QEMU `mps2-an386` (Cortex-M4F, `thumbv7em-none-eabihf`).
//!
//! Runs [`run`] on the target and reports through the semihosting exit code: `EXIT_SUCCESS`
//! only if `run` returns `Ok`, `EXIT_FAILURE` on `Err` or on any panic. Logs are `defmt` frames
//! over semihosting, decoded on the host by `defmt-print` (see `qemu-defmt.sh`).
//!
//! There is deliberately no `#[global_allocator]`: any allocation in `rebar-core` or its
//! dependencies fails to link this binary.
#![no_std]
#![no_main]

mod math_checks;
mod stack;
mod training;

use core::panic::PanicInfo;

use cortex_m as _; // links cortex-m's single-core `critical-section` implementation
use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use defmt_semihosting as _; // the defmt global logger
use rand_xoshiro::Xoshiro256PlusPlus;
use rand_xoshiro::rand_core::SeedableRng;

/// Seed of the on-target RNG: runs are reproducible.
const SEED: u64 = 0x5EBA_2017;

#[entry]
fn main() -> ! {
    stack::paint();
    defmt::info!(
        "rebar-firmware {=str}: rebar-core on Cortex-M4F (QEMU mps2-an386), seed {=u64:#x}",
        env!("CARGO_PKG_VERSION"),
        SEED
    );
    let result = run();
    defmt::info!("stack high-water mark: {=usize} bytes", stack::high_water());
    let status = match result {
        Ok(()) => {
            defmt::info!("PASS");
            debug::EXIT_SUCCESS
        }
        Err(msg) => {
            defmt::error!("FAIL: {=str}", msg);
            debug::EXIT_FAILURE
        }
    };
    exit(status)
}

/// The on-device workload: the core's SIMD math agrees with its scalar reference
/// ([`math_checks`]), then an SBN learns the embedded digits with REBAR ([`training`]). Logs
/// progress with `defmt`; returns `Err` with a short reason when a check fails.
fn run() -> Result<(), &'static str> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(SEED);
    math_checks::run(&mut rng)?;
    training::run(&mut rng)
}

/// Ends the QEMU process with `status` (semihosting `SYS_EXIT`).
fn exit(status: debug::ExitStatus) -> ! {
    debug::exit(status);
    // Only reached without a semihosting host (e.g. on a board with no debugger attached).
    loop {
        cortex_m::asm::wfi();
    }
}

/// Logs the panic (message and location) through defmt and exits with `EXIT_FAILURE`.
///
/// Not `panic-semihosting`: its text would go into the same semihosting stdout as the binary
/// defmt frames, and `defmt-print` would drop it.
#[panic_handler]
fn panic(info: &PanicInfo) -> ! {
    defmt::error!("panic: {}", defmt::Display2Format(info));
    exit(debug::EXIT_FAILURE)
}
