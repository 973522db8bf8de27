//! An effective batch of 512 windows in a 64 KiB part: loads the encoder
//! pretrained on the host, measures the VICReg loss of a held-out effective
//! batch of the drifted stream, trains with steps that each stream 512 new
//! windows through micro-batches of 8, measures again, and exits 0 only if
//! the held-out loss fell by 10 %.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use sensor_adapt::big_batch::{self, EFFECTIVE, MICRO, MicroNet, STATE_BYTES, SeedRing, Streaming};
use sensor_adapt::{Drift, PRETRAINED};
use static_cell::ConstStaticCell;
use vicreg::nn::Buffer;
use vicreg::{Sgd, TrainerConfig};

/// Effective steps on the device.
const STEPS: u32 = 20;

// All-zero statics land in .bss and cost no flash; the configuration is set
// at run time.
static NET: ConstStaticCell<MicroNet> = ConstStaticCell::new(MicroNet::new(TrainerConfig::IDLE, Sgd::new(0.0, 0.0)));
static STREAMING: ConstStaticCell<Streaming> = ConstStaticCell::new(Streaming::ZERO);
static RING: ConstStaticCell<SeedRing> = ConstStaticCell::new(SeedRing::new());

/// The trainer, the stream and the seed ring fit the part's 64 KiB with 12
/// KiB left for the stack and the rest: checked when the firmware is built.
const _: () = assert!(STATE_BYTES <= 52 * 1024);

fn load(net: &mut MicroNet) {
    *net = big_batch::new_net(0.05, STEPS);
    firmware_support::load_or_exit(net, PRETRAINED);
}

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let (net, streaming, ring) = (NET.take(), STREAMING.take(), RING.take());
    say!(
        "vicreg effective batch {} in micro-batches of {}: trainer {} + stream {} + seed ring {} = {} bytes (compile-time constants)",
        EFFECTIVE,
        MICRO,
        MicroNet::MEMORY_BYTES,
        MicroNet::STREAMING_BYTES,
        core::mem::size_of::<SeedRing>(),
        STATE_BYTES
    );

    // The cost of one effective step, on a throwaway copy of the weights.
    load(net);
    big_batch::collect(ring, 1);
    let (result, step_instructions) = ticks.instructions(|| big_batch::step(net, streaming, ring, Drift::DEVICE));
    if let Err(e) = result {
        say!("the measured step failed: {}", e);
        exit(false);
    }
    // What regenerating the windows and their views costs in that step: one
    // pass over the batch per stage.
    let stages = sensor_adapt::NETWORK.stream_stages();
    let ((), regeneration) = ticks.instructions(|| {
        let mut views = [[[0.0; sensor_adapt::INPUT]; MICRO]; 2];
        for _ in 0..stages {
            for first in (0..EFFECTIVE).step_by(MICRO) {
                let [a, b] = &mut views;
                big_batch::fill(ring, Drift::DEVICE, first, a, b);
            }
        }
    });
    say!(
        "one effective step ({} rows, {} stages): {} instructions (±{}), of which {} regenerate the windows and views",
        EFFECTIVE,
        stages,
        step_instructions,
        ticks.resolution(),
        regeneration
    );

    load(net);
    let (outcome, total) = ticks.instructions(|| {
        big_batch::fine_tune(net, streaming, ring, STEPS, |step, result| match result {
            Ok(r) if step % 5 == 4 => say!("step {}: loss {}", step + 1, Fixed(r.terms.loss)),
            Ok(_) => {}
            Err(e) => say!("step {} failed: {}", step + 1, e),
        })
    });
    let Ok((before, after, failed)) = outcome else {
        say!("the held-out loss could not be computed");
        exit(false)
    };
    say!("held-out effective batch: loss {} before, {} after", Fixed(before.loss), Fixed(after.loss));
    say!("{} effective steps ({} failed) in {} instructions", STEPS, failed, total);
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());
    let ok = failed == 0 && after.loss < 0.9 * before.loss;
    say!("{}", if ok { "adapted: the held-out loss fell by more than 10 %" } else { "did NOT adapt" });
    exit(ok)
}
