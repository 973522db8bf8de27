//! On-camera adaptation: loads the CNN pretrained on the host, measures it on
//! digits as the deployed camera sees them (stored in flash, one byte a
//! pixel), fine-tunes it on those images without their labels in streamed
//! micro-batches (an effective batch of 64 through a trainer of 16),
//! measures again on held-out images, and exits 0 only if it adapted.
#![no_std]
#![no_main]

use camera_adapt::{
    self as camera, EFFECTIVE, Evaluation, FINE_TUNE_STEPS, IMAGES, Images, LR, MICRO, Net, PRETRAINED, Shift,
    Streaming, TRAINING_BYTES,
};
use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use static_cell::ConstStaticCell;
use vicreg::nn::Buffer;
use vicreg::{Sgd, TrainerConfig};

// All zeros, so the training state lands in .bss and costs no flash.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::new(TrainerConfig::IDLE, Sgd::new(0.0, 0.0)));
static STREAMING: ConstStaticCell<Streaming> = ConstStaticCell::new(Streaming::ZERO);

/// The training state and the stream fit the part's 256 KiB with 32 KiB
/// left for the stack and the rest: checked when the firmware is built.
const _: () = assert!(TRAINING_BYTES <= 224 * 1024);

/// An evaluation's loss and its weighted terms (λ·invariance + μ·variance +
/// ν·covariance = loss), and the few-shot probe on held-out images.
fn show(label: &str, e: &Evaluation, c: &vicreg::Config) {
    let [invariance, variance, covariance] = e.terms.weighted(c);
    say!(
        "{}: loss {} (λ·invariance {}, μ·variance {}, ν·covariance {}) on an effective batch of {}, few-shot accuracy {} on held-out images (5 labelled per digit)",
        label,
        Fixed(e.terms.loss),
        Fixed(invariance),
        Fixed(variance),
        Fixed(covariance),
        EFFECTIVE,
        Fixed(e.few_shot_accuracy)
    );
}

fn load(net: &mut Net) {
    net.set_config(camera::config(LR, FINE_TUNE_STEPS));
    *net.optimizer_mut() = Sgd::new(0.9, 1e-4);
    firmware_support::load_or_exit(net, PRETRAINED);
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let (net, streaming) = (NET.take(), STREAMING.take());
    let Some(images) = Images::parse(IMAGES) else {
        say!("the stored images are damaged");
        exit(false)
    };
    say!(
        "vicreg on a camera: training state {} + stream {} bytes (compile-time constants), {} images in {} bytes of flash, pretrained checkpoint {} bytes",
        Net::MEMORY_BYTES,
        Net::STREAMING_BYTES,
        images.len(),
        IMAGES.len(),
        PRETRAINED.len()
    );

    // The cost of one step (an effective batch of 64 images in micro-batches
    // of 16: views, 2k + 2 streamed passes, SGD), on a throwaway copy.
    load(net);
    let shift = Shift::DEPLOYED;
    let (result, step_instructions) = ticks.instructions(|| camera::step(net, streaming, &images, &shift, 1));
    if result.is_err() {
        say!("the measured step failed");
        exit(false);
    }
    say!(
        "one effective step ({} images, micro-batches of {}), views included: {} instructions (±{})",
        EFFECTIVE,
        MICRO,
        step_instructions,
        ticks.resolution()
    );

    load(net);
    let Ok(same) = camera::evaluate(net, streaming, &images, &Shift::NONE) else { exit(false) };
    show("pretraining camera", &same, &net.config().loss);
    let Ok(before) = camera::evaluate(net, streaming, &images, &shift) else { exit(false) };
    show("deployed camera, before", &before, &net.config().loss);
    let (failed, total) = ticks.instructions(|| {
        camera::fine_tune(net, streaming, &images, &shift, |step, result| match result {
            Ok(t) if step % 6 == 5 => say!("step {}: loss {} on its effective batch", step + 1, Fixed(t.loss)),
            Ok(_) => {}
            Err(e) => say!("step {} failed: {}", step + 1, e),
        })
    });
    let Ok(after) = camera::evaluate(net, streaming, &images, &shift) else { exit(false) };
    show("deployed camera, after", &after, &net.config().loss);
    say!("{} effective steps ({} failed) in {} instructions", FINE_TUNE_STEPS, failed, total);
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());

    let ok = failed == 0 && camera::adapted(&before, &after);
    say!("{}", if ok { "adapted: loss fell and the few-shot probe improved" } else { "did NOT adapt" });
    exit(ok)
}
