//! On-watch adaptation: loads the host job's Conv1d encoder (the exact
//! layer list `train-motions` trains), measures it on recordings from the
//! other wrist (stored in flash as i16), fine-tunes it on those recordings
//! without their labels in effective batches of 20 streamed one recording
//! at a time, measures again, and exits 0 only if the encoder adapted.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use motion_adapt::watch::{
    self, Buffers, Drift, EFFECTIVE, EVAL_SEED, Evaluation, FINE_TUNE_SEED, FINE_TUNE_STEPS, MICRO, Net, PRETRAINED,
    RECORDINGS, Recordings, TRAINING_BYTES,
};
use static_cell::ConstStaticCell;
use vicreg::{PlainSgd, TrainerConfig};

// All zeros, so the training state lands in .bss and costs no flash.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::new(TrainerConfig::IDLE, PlainSgd::new(0.0)));
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers::new());

/// The training state and its buffers fit the part's 256 KiB with 16 KiB
/// left for the stack and the rest: checked when the firmware is built.
const _: () = assert!(TRAINING_BYTES <= 240 * 1024);

/// An evaluation's loss and its weighted terms (λ·invariance + μ·variance +
/// ν·covariance = loss, as the host jobs print them), on fixed views of
/// every recording, and the few-shot probe.
fn show(label: &str, e: &Evaluation, c: &vicreg::Config) {
    let [invariance, variance, covariance] = e.terms.weighted(c);
    say!(
        "{}: loss {} (λ·invariance {}, μ·variance {}, ν·covariance {}) on fixed views of every recording, few-shot accuracy {} (1 labelled recording per activity)",
        label,
        Fixed(e.terms.loss),
        Fixed(invariance),
        Fixed(variance),
        Fixed(covariance),
        Fixed(e.few_shot_accuracy)
    );
}

fn load(net: &mut Net) {
    // Set in place: a whole `Net` built on the stack would not fit it.
    net.set_config(watch::config(watch::LR, FINE_TUNE_STEPS));
    *net.optimizer_mut() = PlainSgd::new(watch::WEIGHT_DECAY);
    firmware_support::load_or_exit(net, PRETRAINED);
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let (net, buffers) = (NET.take(), BUFFERS.take());
    let Some(recordings) = Recordings::parse(RECORDINGS) else {
        say!("the stored recordings are damaged");
        exit(false)
    };
    say!(
        "vicreg on the watch: the host job's network, training state {} + buffers {} bytes (compile-time constants), {} recordings in {} bytes of flash (i16), pretrained checkpoint {} bytes",
        Net::MEMORY_BYTES,
        core::mem::size_of::<Buffers>(),
        recordings.len(),
        RECORDINGS.len(),
        PRETRAINED.len()
    );

    // The cost of one step (an effective batch of 20 recordings, one at a
    // time: views, 2k + 2 streamed passes, the update), on a throwaway copy.
    load(net);
    let drift = Drift::OTHER_WRIST;
    let (result, step_instructions) = ticks.instructions(|| watch::step(net, buffers, &recordings, &drift, 1));
    if result.is_err() {
        say!("the measured step failed");
        exit(false);
    }
    say!(
        "one effective step ({} recordings, micro-batches of {}), views included: {} instructions (±{})",
        EFFECTIVE,
        MICRO,
        step_instructions,
        ticks.resolution()
    );
    say!(
        "the step's convolutions: {} flops (forward, weight and input gradients, every stage)",
        watch::CONVOLUTION_FLOPS
    );

    load(net);
    let Ok(same) = watch::evaluate(net, buffers, &recordings, &Drift::NONE, EVAL_SEED) else { exit(false) };
    show("worn as in pretraining", &same, &net.config().loss);
    let Ok(before) = watch::evaluate(net, buffers, &recordings, &drift, EVAL_SEED) else { exit(false) };
    show("other wrist, before (the host job's encoder)", &before, &net.config().loss);
    let (failed, total) = ticks.instructions(|| {
        watch::fine_tune(net, buffers, &recordings, &drift, FINE_TUNE_SEED, |step, result| match result {
            Ok(t) if step % 10 == 9 => say!("step {}: loss {} on its effective batch", step + 1, Fixed(t.loss)),
            Ok(_) => {}
            Err(e) => say!("step {} failed: {}", step + 1, e),
        })
    });
    let Ok(after) = watch::evaluate(net, buffers, &recordings, &drift, EVAL_SEED) else { exit(false) };
    show("other wrist, after", &after, &net.config().loss);
    say!("{} effective steps ({} failed) in {} instructions", FINE_TUNE_STEPS, failed, total);
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());

    let ok = failed == 0 && watch::adapted(&before, &after);
    say!("{}", if ok { "adapted: loss fell and the few-shot probe improved" } else { "did NOT adapt" });
    exit(ok)
}
