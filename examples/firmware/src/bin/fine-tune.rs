//! On-device fine-tuning: loads the encoder pretrained on the host, measures
//! it on the drifted sensor stream, runs VICReg training steps on that
//! stream, measures again, and exits 0 only if the encoder adapted.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use sensor_adapt::{
    BATCH, Drift, EVAL_SEED, Evaluation, FINE_TUNE_STEPS, INPUT, Net, PRETRAINED, Pair, SensorStream, TRAINING_BYTES,
    adapted, config, evaluate, fine_tune,
};
use static_cell::ConstStaticCell;
use vicreg::augment::ViewPair;
use vicreg::{Sgd, TrainerConfig};

// All-zero statics land in .bss and cost no flash; the real configuration is
// set at run time.
static NET: ConstStaticCell<Net> = ConstStaticCell::new(Net::new(TrainerConfig::IDLE, Sgd::new(0.0, 0.0)));
static PAIR: ConstStaticCell<Pair> = ConstStaticCell::new(ViewPair::new());

/// The training state and the views fit the part's 64 KiB with 12 KiB left
/// for the stack and the rest: checked when the firmware is built.
const _: () = assert!(TRAINING_BYTES <= 52 * 1024);

/// An evaluation's loss and its weighted terms (λ·invariance + μ·variance +
/// ν·covariance = loss, as the host jobs print them), measured on the
/// evaluation batches: another stretch of the stream than the training
/// batches, so the training steps' own losses need not match it.
fn show(label: &str, e: &Evaluation, c: &vicreg::Config) {
    let [invariance, variance, covariance] = e.terms.weighted(c);
    say!(
        "{}: loss {} (λ·invariance {}, μ·variance {}, ν·covariance {}) on the evaluation batches, min repr std {}, few-shot accuracy {}",
        label,
        Fixed(e.terms.loss),
        Fixed(invariance),
        Fixed(variance),
        Fixed(covariance),
        Fixed(e.min_repr_std),
        Fixed(e.few_shot_accuracy)
    );
}

fn load(net: &mut Net) {
    net.set_config(config(0.02, FINE_TUNE_STEPS));
    let sgd = net.optimizer_mut();
    (sgd.momentum, sgd.weight_decay) = (0.9, 1e-4);
    firmware_support::load_or_exit(net, PRETRAINED);
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let (net, pair) = (NET.take(), PAIR.take());
    say!(
        "vicreg on-device fine-tuning: training state {} bytes (compile-time constant), pretrained checkpoint {} bytes",
        Net::MEMORY_BYTES,
        PRETRAINED.len()
    );

    // The cost of one training step (forward, loss, backward, SGD update) on a
    // batch of the stream, measured on a throwaway copy of the weights: the
    // checkpoint is loaded again afterwards.
    load(net);
    let mut stream = SensorStream::new(5, Drift::DEVICE);
    let mut batch = [[0.0; INPUT]; BATCH];
    stream.fill(&mut batch);
    let Ok((a, b)) = pair.generate(&batch, &sensor_adapt::AUGMENT, &mut vicreg::Pcg32::new(5)) else { exit(false) };
    let (result, step_instructions) = ticks.instructions(|| net.step(a, b));
    if result.is_err() {
        say!("the measured step failed");
        exit(false);
    }
    say!(
        "one training step: {} instructions (±{}), {} flops",
        step_instructions,
        ticks.resolution(),
        sensor_adapt::STEP_FLOPS
    );

    load(net);
    let Ok(before) = evaluate(net, pair, Drift::DEVICE, EVAL_SEED) else { exit(false) };
    show("before", &before, &net.config().loss);
    let (failed, total) = ticks.instructions(|| {
        fine_tune(net, pair, |step, result| match result {
            Ok(t) if step % 50 == 49 => say!("step {}: loss {} on its training batch", step + 1, Fixed(t.loss)),
            Ok(_) => {}
            Err(e) => say!("step {} failed: {}", step + 1, e),
        })
    });
    let Ok(after) = evaluate(net, pair, Drift::DEVICE, EVAL_SEED) else { exit(false) };
    show("after", &after, &net.config().loss);
    say!(
        "{} steps ({} failed) in {} instructions, sensor simulation and augmentation included",
        FINE_TUNE_STEPS,
        failed,
        total
    );
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());

    let ok = failed == 0 && adapted(&before, &after);
    say!("{}", if ok { "adapted: loss fell and the few-shot probe improved" } else { "did NOT adapt" });
    exit(ok)
}
