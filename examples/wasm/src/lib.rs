//! VICReg training of a digits encoder behind a small C ABI, for a
//! WebAssembly host (Node, a browser page) or natively: the MLP (64 → 128 →
//! 32, expander 32 → 64 BatchNorm ReLU → 64, on shifted pixels) or the CNN
//! (the main job's, a 64-d representation, on crops), batches of up to 128,
//! AdamW.
//!
//! Data goes through buffers the module owns: write rows into
//! [`vicreg_input`], call [`vicreg_step`], read [`vicreg_terms`]. Every
//! function returns 0 on success or a negative [`status`] code.
//!
//! | export | what |
//! |---|---|
//! | `vicreg_create(seed)` | the MLP, fresh weights and augmentation stream from `seed` |
//! | `vicreg_create_encoder(seed, encoder)` | the same for encoder 0 (the MLP) or 1 (the CNN) |
//! | `vicreg_repr_width()` | the current encoder's representation width (32 or 64) |
//! | `vicreg_input()` | pointer to 128 × 64 f32: one image (pixels / 16) per row |
//! | `vicreg_step(rows)` | augments the first `rows` input rows twice and trains one step |
//! | `vicreg_terms()` | pointer to 4 f32: loss, invariance, variance, covariance of the last step |
//! | `vicreg_represent(rows)` | writes the representation of the input rows to `vicreg_output()`, rows of the width above |
//! | `vicreg_checkpoint()` / `vicreg_checkpoint_len()` | the checkpoint buffer and the current encoder's checkpoint length |
//! | `vicreg_export_checkpoint()` | writes a checkpoint (with optimiser state) into that buffer |
//! | `vicreg_import_checkpoint(len)` | loads `len` bytes from that buffer |
//! | `vicreg_memory_bytes()` | the current encoder's training state's size |
// `no_std` in WebAssembly; natively (the reference binary) it links std.
#![cfg_attr(target_arch = "wasm32", no_std)]
#![deny(missing_docs)]

use vicreg::augment::{Augment, Brightness, Erase, Jitter, Mask, ResizedCrop, Scale, Shift2d, ViewPair};
use vicreg::nn::{Buffer, Network};
use vicreg::train::checkpoint::CheckpointError;
use vicreg::{AdamW, Error, Pcg32, Trainer, TrainerConfig};

/// Rows per batch, pixels per image, the MLP's representation width.
pub use digits_net::{BATCH, INPUT, REPR};

/// The two encoders and their views (the jobs', from `digits-net`).
use digits_net::{CNN_REPR, DigitsCnn, DigitsNet, IMAGE_VIEWS, PIXEL_VIEWS};
type Mlp = Trainer<DigitsNet, AdamW>;
type Cnn = Trainer<DigitsCnn, AdamW>;
/// The larger of the two checkpoints.
const CHECKPOINT_BYTES: usize = {
    let (mlp, cnn) = (Mlp::checkpoint_bytes(true), Cnn::checkpoint_bytes(true));
    if mlp > cnn { mlp } else { cnn }
};
/// The wider of the two representations.
const WIDEST: usize = if REPR > CNN_REPR { REPR } else { CNN_REPR };

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

/// One encoder's trainer and views.
struct Encoder<N: Network, A> {
    trainer: Trainer<N, AdamW>,
    augment: A,
}

impl<N: Network<Sample = [f32; INPUT]>, A: Augment> Encoder<N, A> {
    /// Fresh weights from `rng`, at `lr` with weight decay `decay`.
    fn create(&mut self, rng: &mut Pcg32, lr: f32, decay: f32) {
        self.trainer.set_config(TrainerConfig::new(lr));
        *self.trainer.optimizer_mut() = AdamW::new(decay);
        self.trainer.init(rng);
    }

    fn set_learning_rate(&mut self, lr: f32) -> i32 {
        let config = TrainerConfig::new(lr);
        if let Err(e) = config.validate() {
            return code(e);
        }
        self.trainer.set_config(config);
        status::OK
    }

    fn step(&mut self, io: &mut Io, rows: usize, rng: &mut Pcg32) -> i32 {
        let (a, b) = match io.pair.generate(&io.input[..rows], &self.augment, rng) {
            Ok(views) => views,
            Err(e) => return code(e),
        };
        match self.trainer.step(a, b) {
            Ok(report) => {
                let t = report.terms;
                io.terms = [t.loss, t.invariance, t.variance, t.covariance];
                let [invariance, variance, covariance] = t.weighted(&self.trainer.config().loss);
                io.weighted = [t.loss, invariance, variance, covariance];
                status::OK
            }
            Err(e) => code(e),
        }
    }

    fn represent(&mut self, io: &mut Io, rows: usize) -> i32 {
        let width = N::LAYOUT.sizes.repr;
        let out = N::Repr::rows_mut(&mut io.output[..rows * width]);
        match self.trainer.represent(&io.input[..rows], out) {
            Ok(()) => status::OK,
            Err(e) => code(e),
        }
    }

    fn export(&self, io: &mut Io) -> i32 {
        match self.trainer.save(&mut io.checkpoint, true) {
            Ok(_) => status::OK,
            Err(e) => checkpoint_code(e),
        }
    }

    fn import(&mut self, io: &Io, len: usize) -> i32 {
        let len = len.min(Trainer::<N, AdamW>::checkpoint_bytes(true));
        match self.trainer.load(&io.checkpoint[..len]) {
            Ok(()) => status::OK,
            Err(e) => checkpoint_code(e),
        }
    }
}

/// What both encoders share: the input and output buffers, the views'
/// buffers, the augmentation stream, the last terms, the checkpoint bytes.
struct Io {
    pair: ViewPair<BATCH, INPUT>,
    rng: Option<Pcg32>,
    input: [[f32; INPUT]; BATCH],
    output: [f32; BATCH * WIDEST],
    terms: [f32; 4],
    weighted: [f32; 4],
    checkpoint: [u8; CHECKPOINT_BYTES],
}

struct State {
    mlp: Encoder<DigitsNet, (Shift2d, Scale, Jitter, Mask)>,
    cnn: Encoder<DigitsCnn, (ResizedCrop<INPUT>, Brightness, Jitter, Erase)>,
    /// The encoder `vicreg_create_encoder` chose: 0 the MLP, 1 the CNN.
    cnn_chosen: bool,
    io: Io,
}

/// An AdamW of all zeros: the real settings come with `vicreg_create`.
const IDLE_ADAM: AdamW = {
    let mut adam = AdamW::new(0.0);
    (adam.beta1, adam.beta2, adam.eps) = (0.0, 0.0, 0.0);
    adam
};

// All zeros but the views' settings, so the module carries no megabytes of
// initial data: the real configuration is set by `vicreg_create`.
static mut STATE: State = State {
    mlp: Encoder { trainer: Trainer::new(TrainerConfig::IDLE, IDLE_ADAM), augment: PIXEL_VIEWS },
    cnn: Encoder { trainer: Trainer::new(TrainerConfig::IDLE, IDLE_ADAM), augment: IMAGE_VIEWS },
    cnn_chosen: false,
    io: Io {
        pair: ViewPair::new(),
        rng: None,
        input: [[0.0; INPUT]; BATCH],
        output: [0.0; BATCH * WIDEST],
        terms: [0.0; 4],
        weighted: [0.0; 4],
        checkpoint: [0; CHECKPOINT_BYTES],
    },
};

/// The module's state. WebAssembly without threads runs one export at a time
/// and none re-enters another, so one exclusive borrow per call is sound.
fn state() -> &'static mut State {
    // SAFETY: single-threaded and not re-entrant (see above): no other
    // reference to STATE is alive while an export runs.
    unsafe { &mut *core::ptr::addr_of_mut!(STATE) }
}

/// Runs `with` on the chosen encoder: the one place the choice is read.
macro_rules! chosen {
    ($s:expr, $e:ident => $body:expr) => {
        if $s.cnn_chosen {
            let $e = &mut $s.cnn;
            $body
        } else {
            let $e = &mut $s.mlp;
            $body
        }
    };
}

/// The MLP, fresh weights and augmentation stream from `seed` (as
/// `vicreg_create_encoder(seed, 0)`).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_create(seed: u32) -> i32 {
    vicreg_create_encoder(seed, 0)
}

/// Encoder 0 (the MLP: learning rate 0.001, no weight decay) or 1 (the CNN:
/// 0.002, weight decay 1e-4), fresh weights and augmentation stream from
/// `seed`; `OTHER` for any other encoder, which changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_create_encoder(seed: u32, encoder: u32) -> i32 {
    let s = state();
    let mut rng = Pcg32::new(u64::from(seed));
    match encoder {
        0 => s.mlp.create(&mut rng, 1e-3, 0.0),
        1 => s.cnn.create(&mut rng, 2e-3, 1e-4),
        _ => return status::OTHER,
    }
    s.cnn_chosen = encoder == 1;
    s.io.rng = Some(rng);
    status::OK
}

/// The chosen encoder's representation width.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_repr_width() -> u32 {
    (if state().cnn_chosen { CNN_REPR } else { REPR }) as u32
}

/// Sets the learning rate of the run `vicreg_create_encoder` started (the
/// defaults are above); a rate that is not a positive number is refused
/// with `OTHER` and changes nothing.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_set_learning_rate(lr: f32) -> i32 {
    let s = state();
    chosen!(s, e => e.set_learning_rate(lr))
}

/// The input buffer: 128 rows of 64 f32.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_input() -> *mut f32 {
    state().io.input.as_flattened_mut().as_mut_ptr()
}

/// The output buffer: 128 rows of the chosen encoder's width.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_output() -> *const f32 {
    state().io.output.as_ptr()
}

/// The loss terms of the last step: loss, invariance, variance, covariance.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_terms() -> *const f32 {
    state().io.terms.as_ptr()
}

/// The same as they add up to the loss: loss, λ·invariance, μ·variance,
/// ν·covariance (what the page draws).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_weighted_terms() -> *const f32 {
    state().io.weighted.as_ptr()
}

/// One training step on two augmented views of the first `rows` input rows.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_step(rows: u32) -> i32 {
    let s = state();
    let Some(mut rng) = s.io.rng.take() else { return status::NOT_CREATED };
    let rows = rows as usize;
    let result =
        if (2..=BATCH).contains(&rows) { chosen!(s, e => e.step(&mut s.io, rows, &mut rng)) } else { status::BAD_ROWS };
    s.io.rng = Some(rng);
    result
}

/// The representation of the first `rows` input rows, into the output buffer.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_represent(rows: u32) -> i32 {
    let s = state();
    if s.io.rng.is_none() {
        return status::NOT_CREATED;
    }
    let rows = (rows as usize).min(BATCH);
    chosen!(s, e => e.represent(&mut s.io, rows))
}

/// The checkpoint buffer (read after export, write before import).
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_checkpoint() -> *mut u8 {
    state().io.checkpoint.as_mut_ptr()
}

/// Bytes of the chosen encoder's checkpoint.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_checkpoint_len() -> u32 {
    (if state().cnn_chosen { Cnn::checkpoint_bytes(true) } else { Mlp::checkpoint_bytes(true) }) as u32
}

/// Writes a checkpoint of the chosen encoder (parameters, running
/// statistics, optimiser state) into the checkpoint buffer.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_export_checkpoint() -> i32 {
    let s = state();
    chosen!(s, e => e.export(&mut s.io))
}

/// Loads the first `len` bytes of the checkpoint buffer into the chosen
/// encoder (after `vicreg_create_encoder`, which sets the configuration);
/// a checkpoint of the other encoder is refused.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_import_checkpoint(len: u32) -> i32 {
    let s = state();
    if s.io.rng.is_none() {
        return status::NOT_CREATED;
    }
    chosen!(s, e => e.import(&s.io, len as usize))
}

/// Bytes of the chosen encoder's training state.
#[unsafe(no_mangle)]
pub extern "C" fn vicreg_memory_bytes() -> u32 {
    (if state().cnn_chosen { Cnn::MEMORY_BYTES } else { Mlp::MEMORY_BYTES }) as u32
}

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
