//! The cost of the loss and its gradients alone at (n, d) = (32, 32) on the
//! Cortex-M4F: instruction counts for both lane kinds and both covariance
//! formulations, beside the flop count.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use firmware_support::{Fixed, Ticks, exit, say, stack};
use static_cell::ConstStaticCell;
use vicreg::{Config, CovarianceSide, Lanes, Options, VicregLoss};

const N: usize = 32;
const D: usize = 32;

struct Buffers {
    loss: VicregLoss<N, D, D>,
    z: [[[f32; D]; N]; 2],
    grads: [[[f32; D]; N]; 2],
}

/// All zeros, so it lands in .bss and costs no flash; configured at run time.
static BUFFERS: ConstStaticCell<Buffers> = ConstStaticCell::new(Buffers {
    loss: VicregLoss::new(
        Config { sim_coeff: 0.0, std_coeff: 0.0, cov_coeff: 0.0, gamma: 0.0, eps: 0.0 },
        Options { side: CovarianceSide::Auto, lanes: Lanes::Scalar },
    ),
    z: [[[0.0; D]; N]; 2],
    grads: [[[0.0; D]; N]; 2],
});

/// Flops of the loss and gradients on the feature side, dominant terms: per
/// branch the upper triangle of Z_cᵀZ_c (n·d(d+1)) and Z_c·G (2·n·d²), and
/// about 16 flops per element for centring, variance, invariance and the
/// gradient's element-wise parts.
const FLOPS: u64 = 2 * (N * D * (D + 1) + 2 * N * D * D + 16 * N * D) as u64;

#[entry]
fn main() -> ! {
    stack::paint();
    let Some(peripherals) = cortex_m::Peripherals::take() else { exit(false) };
    let mut ticks = Ticks::start_or_exit(peripherals.SYST);
    let b = BUFFERS.take();
    b.loss.set_config(Config::DEFAULT);
    let mut rng = vicreg::Pcg32::new(1);
    for v in b.z.iter_mut().flatten().flatten() {
        *v = vicreg::gaussian(&mut rng);
    }
    let [z_a, z_b] = &b.z;
    let [g_a, g_b] = &mut b.grads;
    let mut ok = true;
    for (side, side_name) in [(CovarianceSide::FeatureSide, "feature side"), (CovarianceSide::BatchSide, "batch side")]
    {
        for (lanes, lanes_name) in [(Lanes::Scalar, "scalar"), (Lanes::Wide, "wide")] {
            b.loss.set_options(Options { side, lanes });
            let (result, instructions) = ticks.instructions(|| b.loss.loss_and_gradients(z_a, z_b, g_a, g_b));
            match result {
                Ok(t) => say!(
                    "loss+gradients n=32 d=32, {} {}: {} instructions (±{}), loss {}",
                    side_name,
                    lanes_name,
                    instructions,
                    ticks.resolution(),
                    Fixed(t.loss)
                ),
                Err(e) => {
                    say!("loss failed: {}", e);
                    ok = false;
                }
            }
        }
    }
    say!("flops (feature side, dominant terms): {}", FLOPS);
    say!("peak stack {} of {} bytes", stack::peak(), stack::size());
    exit(ok)
}
