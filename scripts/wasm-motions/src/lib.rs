//! The `train-motions` network's training step (batch 20, AdamW) on fixed
//! views, as two exports: `setup` builds the trainer and the views,
//! `steps(k)` runs k steps. The module and the native binary run exactly
//! this code; `run.mjs` times both.
#![cfg_attr(target_arch = "wasm32", no_std)]

use motion_adapt::motion::{BATCH, Motion};
use motion_adapt::views::INPUT;
use vicreg::{AdamW, Pcg32, Trainer, TrainerConfig};

struct State {
    trainer: Trainer<Motion, AdamW>,
    a: [[f32; INPUT]; BATCH],
    b: [[f32; INPUT]; BATCH],
}

static mut STATE: State = State {
    trainer: Trainer::new(TrainerConfig::new(1e-3), AdamW::new(0.0)),
    a: [[0.0; INPUT]; BATCH],
    b: [[0.0; INPUT]; BATCH],
};

fn state() -> &'static mut State {
    // SAFETY: one thread (WebAssembly's, or the native binary's main) calls
    // the exports one at a time, so no other reference to STATE is alive.
    #[allow(static_mut_refs)]
    unsafe {
        &mut *core::ptr::addr_of_mut!(STATE)
    }
}

/// Initialises the parameters and draws two views (uniform in ±1.5, the
/// second the first plus noise): a fixed pair that every step reuses.
#[unsafe(no_mangle)]
pub extern "C" fn setup() -> i32 {
    let s = state();
    let mut rng = Pcg32::new(1);
    s.trainer.init(&mut rng);
    for (ra, rb) in s.a.iter_mut().zip(s.b.iter_mut()) {
        for (x, y) in ra.iter_mut().zip(rb.iter_mut()) {
            *x = 1.5 * vicreg::symmetric_unit(&mut rng);
            *y = *x + 0.3 * vicreg::symmetric_unit(&mut rng);
        }
    }
    0
}

/// `k` training steps; 0, or -1 if a step failed.
#[unsafe(no_mangle)]
pub extern "C" fn steps(k: u32) -> i32 {
    let s = state();
    for _ in 0..k {
        if s.trainer.step(&s.a, &s.b).is_err() {
            return -1;
        }
    }
    0
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn halt(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
