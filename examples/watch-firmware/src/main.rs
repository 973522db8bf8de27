//! On-watch adaptation: loads the Conv1d encoder pretrained on the host,
//! measures it on recordings from the other wrist (stored in flash as i16),
//! fine-tunes it on those recordings without their labels, measures again,
//! and exits 0 only if the encoder adapted.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use motion_adapt::watch::{
    self, Drift, EVAL_SEED, Evaluation, FINE_TUNE_STEPS, Net, PRETRAINED, RECORDINGS, Recordings, TRAINING_BYTES, Views,
};
use static_cell::ConstStaticCell;
use vicreg::{Pcg32, Sgd, TrainerConfig};

// All zeros, so the training state lands in .bss and costs no flash.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::new(TrainerConfig::IDLE, Sgd::new(0.0, 0.0)));
static VIEWS: ConstStaticCell<Views> = ConstStaticCell::new(Views::new());

/// The training state and the views fit the part's 256 KiB with 32 KiB left
/// for the stack and the rest: checked when the firmware is built.
const _: () = assert!(TRAINING_BYTES <= 224 * 1024);

/// An evaluation's loss and its weighted terms (λ·invariance + μ·variance +
/// ν·covariance = loss, as the host jobs print them), measured on the
/// evaluation batches: another stretch of the stream than the training
/// batches, so the training steps' own losses need not match it.
fn show(label: &str, e: &Evaluation, c: &vicreg::Config) {
    let [invariance, variance, covariance] = e.terms.weighted(c);
    say!(
        "{}: loss {} (λ·invariance {}, μ·variance {}, ν·covariance {}) on the evaluation batches, few-shot accuracy {} (1 labelled recording per activity)",
        label,
        Fixed(e.terms.loss),
        Fixed(invariance),
        Fixed(variance),
        Fixed(covariance),
        Fixed(e.few_shot_accuracy)
    );
}

fn load(net: &mut Net) {
    net.set_config(watch::config(0.02, FINE_TUNE_STEPS));
    *net.optimizer_mut() = Sgd::new(0.9, 1e-4);
    firmware_support::load_or_exit(net, PRETRAINED);
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let (net, views) = (NET.take(), VIEWS.take());
    let Some(recordings) = Recordings::parse(RECORDINGS) else {
        say!("the stored recordings are damaged");
        exit(false)
    };
    say!(
        "vicreg on the watch: training state {} bytes (compile-time constant), {} recordings in {} bytes of flash (i16), pretrained checkpoint {} bytes",
        Net::MEMORY_BYTES,
        recordings.len(),
        RECORDINGS.len(),
        PRETRAINED.len()
    );

    // The cost of one training step (two augmented views of 8 recordings,
    // forward, loss, backward, SGD), on a throwaway copy of the weights.
    load(net);
    let drift = Drift::OTHER_WRIST;
    let (failed, step_instructions) =
        ticks.instructions(|| watch::train(net, views, &recordings, &drift, 1, &mut Pcg32::new(5), |_, _| {}));
    if failed != 0 {
        say!("the measured step failed");
        exit(false);
    }
    say!("one training step, views included: {} instructions (±{})", step_instructions, ticks.resolution());
    say!("the step's convolutions: {} flops (forward, weight and input gradients)", watch::CONVOLUTION_FLOPS);

    load(net);
    let Ok(same) = watch::evaluate(net, views, &recordings, &Drift::NONE, EVAL_SEED) else { exit(false) };
    show("worn as in pretraining", &same, &net.config().loss);
    let Ok(before) = watch::evaluate(net, views, &recordings, &drift, EVAL_SEED) else { exit(false) };
    show("other wrist, before", &before, &net.config().loss);
    let (failed, total) = ticks.instructions(|| {
        watch::fine_tune(net, views, &recordings, &drift, |step, result| match result {
            Ok(t) if step % 50 == 49 => say!("step {}: loss {} on its training batch", step + 1, Fixed(t.loss)),
            Ok(_) => {}
            Err(e) => say!("step {} failed: {}", step + 1, e),
        })
    });
    let Ok(after) = watch::evaluate(net, views, &recordings, &drift, EVAL_SEED) else { exit(false) };
    show("other wrist, after", &after, &net.config().loss);
    say!("{} steps ({} failed) in {} instructions", FINE_TUNE_STEPS, failed, total);
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());

    let ok = failed == 0 && watch::adapted(&before, &after);
    say!("{}", if ok { "adapted: loss fell and the few-shot probe improved" } else { "did NOT adapt" });
    exit(ok)
}
