//! What the firmware examples share: output (semihosting text, or defmt
//! with the `defmt` feature), exit codes, a fault handler that fails the run
//! instead of hanging QEMU, an instruction counter, stack painting and
//! fixed-point printing, loading the checkpoint a firmware embeds; and the
//! build script both firmware crates run (`link.rs`: their own `memory.x`
//! for the linker, `link.x`, defmt's linker script with that feature).
#![no_std]

pub use cortex_m_semihosting;

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::SYST;
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{ExceptionFrame, exception};
use cortex_m_semihosting::debug::{self, EXIT_FAILURE, EXIT_SUCCESS};
#[cfg(feature = "defmt")]
use defmt_semihosting as _;

/// Prints a line on the host: semihosting text by default, defmt frames with
/// the `defmt` feature. Takes `{}` placeholders only (defmt's syntax).
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {{
        #[cfg(not(feature = "defmt"))]
        $crate::cortex_m_semihosting::hprintln!($($arg)*);
        #[cfg(feature = "defmt")]
        defmt::println!($($arg)*);
    }};
}

/// Loads the checkpoint a firmware embeds into its trainer, or says why it
/// was refused and fails the run.
pub fn load_or_exit<N: vicreg::nn::Network, O: vicreg::Optimizer>(net: &mut vicreg::Trainer<N, O>, checkpoint: &[u8]) {
    if let Err(e) = net.load(checkpoint) {
        say!("pretrained checkpoint refused: {}", e);
        exit(false);
    }
}

/// Ends the QEMU run with status 0 or 1.
pub fn exit(success: bool) -> ! {
    debug::exit(if success { EXIT_SUCCESS } else { EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

/// A panic fails the run and names where it happened. The core's API does
/// not panic, so this only catches a firmware's own mistakes; the panic's
/// message is left out because formatting it (bounds checks carry theirs)
/// costs flash that a location alone does not.
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    match info.location() {
        Some(at) => say!("panicked at {}:{}", at.file(), at.line()),
        None => say!("panicked"),
    }
    exit(false)
}

/// A fault (bad memory access, undefined instruction, stack overflow into
/// the guard) fails the run rather than hanging QEMU.
#[exception]
unsafe fn HardFault(_frame: &ExceptionFrame) -> ! {
    say!("hard fault");
    exit(false)
}

static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.fetch_add(1, Ordering::Relaxed);
}

/// Counts executed instructions with SysTick across wraps. Under QEMU with
/// `-icount shift=0` virtual time advances by instruction count, so SysTick
/// ticks are a fixed number of instructions: [`Ticks::start`] measures that
/// number against a loop of known length, and counts are repeatable to that
/// resolution.
pub struct Ticks {
    instructions_per_tick: u64,
}

impl Ticks {
    /// Starts SysTick free-running from the core clock (interrupting on each
    /// wrap) and calibrates it. `None` if the calibration loop does not give
    /// a whole number of instructions per tick within 0.1 %.
    pub fn start(mut syst: SYST) -> Option<Self> {
        syst.set_clock_source(SystClkSource::Core);
        syst.set_reload(0x00FF_FFFF);
        syst.clear_current();
        syst.enable_counter();
        // The first load of the reload value neither wraps nor interrupts:
        // wait for it, then count wraps from there.
        while SYST::get_current() == 0 {}
        syst.enable_interrupt();
        let mut ticks = Self { instructions_per_tick: 1 };
        const ITERATIONS: u32 = 2_000_000;
        const LOOP: u64 = 2 * ITERATIONS as u64;
        let ((), measured) = ticks.instructions(|| counted_loop(ITERATIONS));
        let per_tick = (LOOP + measured / 2) / measured.max(1);
        let error = (per_tick * measured).abs_diff(LOOP);
        (per_tick > 0 && error * 1000 < LOOP).then_some(Self { instructions_per_tick: per_tick })
    }

    /// [`start`](Self::start), or a failed run with a message saying why.
    pub fn start_or_exit(syst: SYST) -> Self {
        Self::start(syst).unwrap_or_else(|| {
            say!("SysTick does not count instructions: run under QEMU with -icount shift=0");
            exit(false)
        })
    }

    /// Instructions per SysTick tick: the resolution of the counts.
    pub fn resolution(&self) -> u64 {
        self.instructions_per_tick
    }

    fn now(&mut self) -> u64 {
        loop {
            let before = WRAPS.load(Ordering::Relaxed);
            let current = SYST::get_current();
            // A wrap whose interrupt is still pending would be missed: retry
            // until the handler has counted it.
            if WRAPS.load(Ordering::Relaxed) == before && !cortex_m::peripheral::SCB::is_pendst_pending() {
                return u64::from(before) * 0x0100_0000 + u64::from(0x00FF_FFFF - current);
            }
        }
    }

    /// Instructions spent in `f`, to [`resolution`](Self::resolution).
    pub fn instructions<T>(&mut self, f: impl FnOnce() -> T) -> (T, u64) {
        let start = self.now();
        let value = f();
        let end = self.now();
        (value, (end - start) * self.instructions_per_tick)
    }
}

/// Executes exactly 2·`iterations` instructions (`subs` and `bne` per
/// iteration; `iterations` ≥ 1), the yardstick [`Ticks::start`] calibrates
/// against.
#[inline(never)]
fn counted_loop(iterations: u32) {
    // SAFETY: the loop only decrements its own register operand to zero.
    unsafe {
        core::arch::asm!(
            ".p2align 3",
            "2:",
            "subs {0}, #1",
            "bne 2b",
            inout(reg) iterations.max(1) => _,
            options(nomem, nostack),
        );
    }
}

/// Stack high-water mark by painting: fill the unused stack with a pattern
/// at start, find the deepest overwritten word at the end.
pub mod stack {
    const PAINT: u32 = 0xDEAD_BEEF;

    unsafe extern "C" {
        /// End of .bss/.data, where the stack may grow down to (cortex-m-rt).
        static mut __sheap: u32;
        /// Top of RAM, where the stack starts (cortex-m-rt).
        static _stack_start: u32;
    }

    fn bounds() -> (usize, usize) {
        // Only the addresses of the linker symbols are taken, never their values.
        (core::ptr::addr_of!(__sheap) as usize, core::ptr::addr_of!(_stack_start) as usize)
    }

    /// Bytes between the end of static data and the top of RAM.
    pub fn size() -> usize {
        let (bottom, top) = bounds();
        top - bottom
    }

    /// Paints from the end of static data up to 256 bytes below the current
    /// stack pointer (the frames in use stay untouched).
    pub fn paint() {
        let (bottom, _) = bounds();
        let sp = cortex_m::register::msp::read() as usize - 256;
        let mut p = bottom;
        while p < sp {
            // SAFETY: [bottom, sp) is RAM that no live object occupies: above
            // it is the current stack, below it the statics; no heap exists.
            unsafe { core::ptr::write_volatile(p as *mut u32, PAINT) };
            p += 4;
        }
    }

    /// The deepest the stack has reached since [`paint`], in bytes from the
    /// top of RAM.
    pub fn peak() -> usize {
        let (bottom, top) = bounds();
        let mut p = bottom;
        // SAFETY: reads of RAM within [bottom, top), word-aligned.
        while p < top && unsafe { core::ptr::read_volatile(p as *const u32) } == PAINT {
            p += 4;
        }
        top - p
    }
}

/// An `f32` printed with six decimals by integer arithmetic. Core's float
/// formatting (shortest round-trip digits) costs about 7 KiB of flash; this
/// costs a few dozen bytes, and defmt builds format on the host anyway.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fixed(pub f32);

impl core::fmt::Display for Fixed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let v = self.0;
        if v.is_nan() {
            return f.write_str("NaN");
        }
        let sign = if v.is_sign_negative() { "-" } else { "" };
        let a = v.abs();
        // Integers from 2^24 up are exact in f32 and have no fraction to show.
        if a >= 16_777_216.0 {
            return if a.is_infinite() { write!(f, "{sign}inf") } else { write!(f, "{sign}{}", a as u64) };
        }
        let whole = a as u32;
        // a − whole is exact in f32 below 2^24.
        let mut micros = ((a - whole as f32) * 1e6 + 0.5) as u32;
        let mut whole = whole;
        if micros >= 1_000_000 {
            whole += 1;
            micros -= 1_000_000;
        }
        write!(f, "{sign}{whole}.{micros:06}")
    }
}

#[cfg(feature = "defmt")]
impl defmt::Format for Fixed {
    fn format(&self, f: defmt::Formatter<'_>) {
        defmt::write!(f, "{}", self.0);
    }
}
