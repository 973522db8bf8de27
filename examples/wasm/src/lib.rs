//! VICReg training of the digits encoder (64 → 128 → 32, expander 32 → 64
//! BatchNorm ReLU → 64, batches of up to 128, AdamW) behind a small C ABI, for
//! a WebAssembly host (Node, a browser page) or natively.
//!
//! Data goes through buffers the module owns: write rows into
//! [`vicreg_input`], call [`vicreg_step`], read [`vicreg_terms`]. Every
//! function returns 0 on success or a negative [`status`] code.
//!
//! | export | what |
//! |---|---|
//! | `vicreg_create(seed)` | fresh weights and augmentation stream from `seed` |
//! | `vicreg_input()` | pointer to 128 × 64 f32: one image (pixels / 16) per row |
//! | `vicreg_step(rows)` | augments the first `rows` input rows twice and trains one step |
//! | `vicreg_terms()` | pointer to 4 f32: loss, invariance, variance, covariance of the last step |
//! | `vicreg_represent(rows)` | writes the 32-d representation of the input rows to `vicreg_output()` |
//! | `vicreg_checkpoint()` / `vicreg_checkpoint_len()` | the checkpoint buffer and its length |
//! | `vicreg_export_checkpoint()` | writes a checkpoint (with optimiser state) into that buffer |
//! | `vicreg_import_checkpoint(len)` | loads `len` bytes from that buffer |
//! | `vicreg_memory_bytes()` | the training state's size |
// `no_std` in WebAssembly; natively (the reference binary) it links std.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

use vicreg::augment::{Jitter, Mask, Scale, Shift2d, ViewPair};
use vicreg::train::checkpoint::CheckpointError;
use vicreg::{AdamW, Error, Pcg32, Trainer, TrainerConfig};

/// Rows per batch, pixels per image, representation width.
pub use digits_net::{BATCH, INPUT, REPR};

/// The digits network: 64 → 128 → 32 encoder, 32 → 64 (BatchNorm, ReLU) → 64
/// expander without a final bias (the job's, from `digits-net`).
use digits_net::DigitsNet;
type Digits = Trainer<DigitsNet, AdamW>;
const CHECKPOINT_BYTES: usize = Digits::checkpoint_bytes(true);

/// Status codes returned by the exports.
pub mod status {
    /// Success.
    pub const OK: i32 = 0;
    /// `vicreg_create` has not been called.
    pub const NOT_CREATED: i32 = -1;
    /// More rows than the buffers hold, or fewer than two.
    pub const BAD_ROWS: i32 = -2;
    /// An input holds a NaN or an infinity.
    pub const NON_FINITE_INPUT: i32 = -3;
    /// The loss or a gradient overflowed; the weights are unchanged.
    pub const NON_FINITE_RESULT: i32 = -4;
    /// The checkpoint is corrupted, truncated or for another network.
    pub const BAD_CHECKPOINT: i32 = -5;
    /// Any other error.
    pub const OTHER: i32 = -6;
}

fn code(e: Error) -> i32 {
    match e {
        Error::TooFewRows { .. } | Error::TooManyRows { .. } | Error::ShapeMismatch => status::BAD_ROWS,
        Error::NonFiniteInput => status::NON_FINITE_INPUT,
        Error::NonFiniteResult => status::NON_FINITE_RESULT,
        _ => status::OTHER,
    }
}

/// Every checkpoint refusal is one status: the bytes are not this network's.
fn checkpoint_code(_: CheckpointError) -> i32 {
    status::BAD_CHECKPOINT
}

struct State {
    trainer: Digits,
    pair: ViewPair<BATCH, INPUT>,
    rng: Option<Pcg32>,
    input: [[f32; INPUT]; BATCH],
    output: [[f32; REPR]; BATCH],
    terms: [f32; 4],
    weighted: [f32; 4],
    checkpoint: [u8; CHECKPOINT_BYTES],
}

// All zeros, so the module carries no megabyte of initial data: the real
// configuration is set by `vicreg_create`.
static mut STATE: State = State {
    trainer: Trainer::new(TrainerConfig::IDLE, {
        let mut adam = AdamW::new(0.0);
        (adam.beta1, adam.beta2, adam.eps) = (0.0, 0.0, 0.0);
        adam
    }),
    pair: ViewPair::new(),
    rng: None,
    input: [[0.0; INPUT]; BATCH],
    output: [[0.0; REPR]; BATCH],
    terms: [0.0; 4],
    weighted: [0.0; 4],
    checkpoint: [0; CHECKPOINT_BYTES],
};

/// The module's state. WebAssembly without threads runs one export at a time
/// and none re-enters another, so one exclusive borrow per call is sound.
fn state() -> &'static mut State {
    // SAFETY: single-threaded and not re-entrant (see above): no other
    // reference to STATE is alive while an export runs.
    unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
}

/// The augmentation of the digits recipe: ±1-pixel shift, ×0.8–1.2, noise
/// σ 0.1, 10 % masking.
const AUGMENT: (Shift2d, Scale, Jitter, Mask) = (
    Shift2d { width: 8, height: 8, max_shift: 1 },
    Scale { low: 0.8, high: 1.2 },
    Jitter { sigma: 0.1 },
    Mask { probability: 0.1 },
);

/// Fresh weights and augmentation stream from `seed`.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_create(seed: u32) -> i32 {
    let s = state();
    s.trainer.set_config(TrainerConfig::new(1e-3));
    *s.trainer.optimizer_mut() = AdamW::new(0.0);
    let mut rng = Pcg32::new(u64::from(seed));
    s.trainer.init(&mut rng);
    s.rng = Some(rng);
    status::OK
}

/// Sets the peak learning rate of the run `vicreg_create` started (the
/// default is 0.001); a rate that is not a positive number is refused with
/// `OTHER` and changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_set_learning_rate(lr: f32) -> i32 {
    let s = state();
    let config = TrainerConfig::new(lr);
    if let Err(e) = config.validate() {
        return code(e);
    }
    s.trainer.set_config(config);
    status::OK
}

/// The input buffer: 128 rows of 64 f32.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_input() -> *mut f32 {
    state().input.as_flattened_mut().as_mut_ptr()
}

/// The output buffer: 128 rows of 32 f32.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_output() -> *const f32 {
    state().output.as_flattened().as_ptr()
}

/// The loss terms of the last step: loss, invariance, variance, covariance.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_terms() -> *const f32 {
    state().terms.as_ptr()
}

/// The same as they add up to the loss: loss, λ·invariance, μ·variance,
/// ν·covariance (what the page draws).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_weighted_terms() -> *const f32 {
    state().weighted.as_ptr()
}

/// One training step on two augmented views of the first `rows` input rows.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_step(rows: u32) -> i32 {
    let s = state();
    let Some(rng) = s.rng.as_mut() else { return status::NOT_CREATED };
    let rows = rows as usize;
    if !(2..=BATCH).contains(&rows) {
        return status::BAD_ROWS;
    }
    let (a, b) = match s.pair.generate(&s.input[..rows], &AUGMENT, rng) {
        Ok(views) => views,
        Err(e) => return code(e),
    };
    match s.trainer.step(a, b) {
        Ok(report) => {
            let t = report.terms;
            s.terms = [t.loss, t.invariance, t.variance, t.covariance];
            let [invariance, variance, covariance] = t.weighted(&s.trainer.config().loss);
            s.weighted = [t.loss, invariance, variance, covariance];
            status::OK
        }
        Err(e) => code(e),
    }
}

/// The representation of the first `rows` input rows, into the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_represent(rows: u32) -> i32 {
    let s = state();
    if s.rng.is_none() {
        return status::NOT_CREATED;
    }
    let rows = (rows as usize).min(BATCH);
    match s.trainer.represent(&s.input[..rows], &mut s.output[..rows]) {
        Ok(()) => status::OK,
        Err(e) => code(e),
    }
}

/// The checkpoint buffer (read after export, write before import).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_checkpoint() -> *mut u8 {
    state().checkpoint.as_mut_ptr()
}

/// Bytes of a checkpoint.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_checkpoint_len() -> u32 {
    CHECKPOINT_BYTES as u32
}

/// Writes a checkpoint (parameters, running statistics, optimiser state)
/// into the checkpoint buffer.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_export_checkpoint() -> i32 {
    let s = state();
    match s.trainer.save(&mut s.checkpoint, true) {
        Ok(_) => status::OK,
        Err(e) => checkpoint_code(e),
    }
}

/// Loads the first `len` bytes of the checkpoint buffer (after
/// `vicreg_create`, which sets the configuration).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_import_checkpoint(len: u32) -> i32 {
    let s = state();
    if s.rng.is_none() {
        return status::NOT_CREATED;
    }
    let len = (len as usize).min(CHECKPOINT_BYTES);
    match s.trainer.load(&s.checkpoint[..len]) {
        Ok(()) => status::OK,
        Err(e) => checkpoint_code(e),
    }
}

/// Bytes of the training state.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_memory_bytes() -> u32 {
    Digits::MEMORY_BYTES as u32
}

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
