//! [`Trainer`]: the Siamese network, its gradients, an optimiser and every
//! buffer of a VICReg training step, in one value of compile-time size.

use crate::checkpoint::{self, FLAG_BATCH_NORM, FLAG_FINAL_BIAS, FLAG_OPTIMIZER, Header, PayloadReader};
use crate::network::{self, Arch, BackScratch, Cache, Frozen, Parameters};
use crate::optim::{Optimizer, Schedule};
use crate::{Config, Error, LossTerms, Options, VicregLoss};
use crate::{batch_norm, linear};

/// Everything about a training run that is not a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainerConfig {
    /// The loss coefficients.
    pub loss: Config,
    /// Covariance formulation and lanes (also used by the layers).
    pub options: Options,
    /// BatchNorm and final bias.
    pub arch: Arch,
    /// Layers that do not train.
    pub frozen: Frozen,
    /// Learning rate by step.
    pub schedule: Schedule,
}

impl TrainerConfig {
    /// Every field zero (and the scalar lanes, whose tag is zero): not a
    /// configuration to train with, but one that lets a `static` trainer built
    /// with [`Trainer::new`] land in `.bss` and cost no flash. Set the real
    /// configuration with [`Trainer::set_config`] before the first step.
    pub const IDLE: Self = Self {
        loss: Config { sim_coeff: 0.0, std_coeff: 0.0, cov_coeff: 0.0, gamma: 0.0, eps: 0.0 },
        options: Options { side: crate::CovarianceSide::Auto, lanes: crate::Lanes::Scalar },
        arch: Arch { batch_norm: false, final_bias: false, bn_eps: 0.0, bn_momentum: 0.0 },
        frozen: Frozen::NONE,
        schedule: Schedule { base_lr: 0.0, final_lr: 0.0, warmup_steps: 0, total_steps: 0 },
    };

    /// The official loss and architecture, nothing frozen, and a constant
    /// learning rate.
    #[must_use]
    pub const fn new(lr: f32) -> Self {
        Self {
            loss: Config::DEFAULT,
            options: Options { side: crate::CovarianceSide::Auto, lanes: crate::Lanes::Wide },
            arch: Arch::OFFICIAL,
            frozen: Frozen::NONE,
            schedule: Schedule::constant(lr),
        }
    }
}

/// Where a [`Trainer`]'s bytes go; every figure is a compile-time constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Memory {
    /// Weights, biases, BatchNorm parameters and running statistics.
    pub parameters: usize,
    /// One gradient per parameter.
    pub gradients: usize,
    /// The optimiser's state (momentum, moments).
    pub optimizer: usize,
    /// Both views' activations and the backward pass's buffers.
    pub activations: usize,
    /// The loss's centred batch, statistics and covariance (or Gram) matrix.
    pub loss_workspace: usize,
    /// All of it, with padding and the configuration.
    pub total: usize,
}

/// What one training step did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StepReport {
    /// The loss and its terms before the update.
    pub terms: LossTerms,
    /// The learning rate applied.
    pub lr: f32,
    /// Steps completed, this one included.
    pub step: u32,
}

/// One view's activations: what the forward pass keeps for the backward pass.
#[derive(Clone, Debug)]
struct ViewBuffers<const N: usize, const H: usize, const R: usize, const EH: usize, const E: usize> {
    h: [[f32; H]; N],
    y: [[f32; R]; N],
    x_hat: [[f32; EH]; N],
    a: [[f32; EH]; N],
    z: [[f32; E]; N],
    dz: [[f32; E]; N],
    mean: [f32; EH],
    inv_std: [f32; EH],
}

impl<const N: usize, const H: usize, const R: usize, const EH: usize, const E: usize> ViewBuffers<N, H, R, EH, E> {
    const fn new() -> Self {
        Self {
            h: [[0.0; H]; N],
            y: [[0.0; R]; N],
            x_hat: [[0.0; EH]; N],
            a: [[0.0; EH]; N],
            z: [[0.0; E]; N],
            dz: [[0.0; E]; N],
            mean: [0.0; EH],
            inv_std: [0.0; EH],
        }
    }

    /// The first n rows as a forward cache, and the loss gradient ∂ℓ/∂z.
    fn split(&mut self, n: usize) -> (Cache<'_>, &mut [f32]) {
        let cache = Cache {
            h: self.h[..n].as_flattened_mut(),
            y: self.y[..n].as_flattened_mut(),
            x_hat: self.x_hat[..n].as_flattened_mut(),
            a: self.a[..n].as_flattened_mut(),
            z: self.z[..n].as_flattened_mut(),
            mean: &mut self.mean,
            inv_std: &mut self.inv_std,
        };
        (cache, self.dz[..n].as_flattened_mut())
    }

    /// The first n rows as a forward cache.
    fn cache(&mut self, n: usize) -> Cache<'_> {
        self.split(n).0
    }
}

/// A VICReg training loop's whole state for batches of up to `N` rows:
/// the network (`IN` → `H` → `R` encoder, `R` → `EH` → `E` expander), its
/// gradients, BatchNorm's running statistics, the optimiser `O` and its
/// state, the loss workspace (`S`, the side of the covariance matrix: see
/// [`VicregLoss`]) and both views' activations. No heap; the size is
/// [`Trainer::MEMORY_BYTES`].
///
/// ```
/// use vicreg::{AdamW, Pcg32, Trainer, TrainerConfig};
///
/// // 8-feature inputs, 16 hidden, 4-d representation, 16-wide expander,
/// // 8-d embedding, batches of up to 16 rows.
/// type Small = Trainer<16, 8, 16, 4, 16, 8, 8, AdamW<8, 16, 4, 16, 8>>;
/// let mut trainer: Box<Small> = Box::new(Trainer::new(TrainerConfig::new(1e-3), AdamW::new(0.0)));
/// let mut rng = Pcg32::new(1);
/// trainer.init(&mut rng);
///
/// let x_a: [[f32; 8]; 16] = core::array::from_fn(|i| core::array::from_fn(|j| ((i * 8 + j) as f32).sin()));
/// let x_b = x_a.map(|row| row.map(|v| v + 0.01));
/// let report = trainer.step(&x_a, &x_b)?;
/// assert_eq!(report.step, 1);
/// # Ok::<(), vicreg::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Trainer<
    const N: usize,
    const IN: usize,
    const H: usize,
    const R: usize,
    const EH: usize,
    const E: usize,
    const S: usize,
    O,
> {
    config: TrainerConfig,
    params: Parameters<IN, H, R, EH, E>,
    grads: Parameters<IN, H, R, EH, E>,
    running_mean: [f32; EH],
    running_var: [f32; EH],
    optimizer: O,
    loss: VicregLoss<N, E, S>,
    views: [ViewBuffers<N, H, R, EH, E>; 2],
    da: [[f32; EH]; N],
    dy: [[f32; R]; N],
    dh: [[f32; H]; N],
    sums: [f32; EH],
    sums_xhat: [f32; EH],
    steps: u32,
    last_n: usize,
    #[cfg(feature = "fault-injection")]
    fault: Option<(Fault, f32)>,
}

/// Where [`Trainer::inject_fault`] poisons the next step (feature
/// `fault-injection`).
#[cfg(feature = "fault-injection")]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The first encoder activation of view a, after the forward pass.
    Activation,
    /// The first gradient of the first layer, after the backward pass.
    Gradient,
}

impl<
    const N: usize,
    const IN: usize,
    const H: usize,
    const R: usize,
    const EH: usize,
    const E: usize,
    const S: usize,
    O,
> Trainer<N, IN, H, R, EH, E, S, O>
where
    O: Optimizer<IN, H, R, EH, E>,
{
    /// Bytes of the whole training state: parameters, gradients, running
    /// statistics, optimiser state, loss workspace and activations.
    pub const MEMORY_BYTES: usize = core::mem::size_of::<Self>();

    /// [`MEMORY_BYTES`](Self::MEMORY_BYTES) by part.
    pub const MEMORY: Memory = Memory {
        parameters: core::mem::size_of::<Parameters<IN, H, R, EH, E>>() + 2 * core::mem::size_of::<[f32; EH]>(),
        gradients: core::mem::size_of::<Parameters<IN, H, R, EH, E>>(),
        optimizer: core::mem::size_of::<O>(),
        activations: core::mem::size_of::<[ViewBuffers<N, H, R, EH, E>; 2]>()
            + core::mem::size_of::<[[f32; EH]; N]>()
            + core::mem::size_of::<[[f32; R]; N]>()
            + core::mem::size_of::<[[f32; H]; N]>()
            + 2 * core::mem::size_of::<[f32; EH]>(),
        loss_workspace: core::mem::size_of::<VicregLoss<N, E, S>>(),
        total: core::mem::size_of::<Self>(),
    };

    /// A trainer with every parameter zero: call [`init`](Self::init) (or
    /// [`load`](Self::load) a checkpoint) before training. `const`, and all
    /// zeros but the configuration, so a `static` of it costs no flash.
    #[must_use]
    pub const fn new(config: TrainerConfig, optimizer: O) -> Self {
        Self {
            config,
            params: Parameters::zeros(),
            grads: Parameters::zeros(),
            running_mean: [0.0; EH],
            running_var: [0.0; EH],
            optimizer,
            loss: VicregLoss::new(config.loss, config.options),
            views: [ViewBuffers::new(), ViewBuffers::new()],
            da: [[0.0; EH]; N],
            dy: [[0.0; R]; N],
            dh: [[0.0; H]; N],
            sums: [0.0; EH],
            sums_xhat: [0.0; EH],
            steps: 0,
            last_n: 0,
            #[cfg(feature = "fault-injection")]
            fault: None,
        }
    }

    /// Draws fresh parameters (PyTorch's default initialisation), resets the
    /// running statistics, the optimiser state and the step count.
    pub fn init<G: rand_core::RngCore + ?Sized>(&mut self, rng: &mut G) {
        self.params.init(rng);
        self.running_mean = [0.0; EH];
        self.running_var = [1.0; EH];
        self.optimizer.reset();
        self.steps = 0;
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Replaces the configuration (to freeze layers or change the schedule
    /// between phases, say).
    pub fn set_config(&mut self, config: TrainerConfig) {
        self.config = config;
        self.loss.set_config(config.loss);
        self.loss.set_options(config.options);
    }

    /// The network's parameters.
    #[must_use]
    pub fn parameters(&self) -> &Parameters<IN, H, R, EH, E> {
        &self.params
    }

    /// The network's parameters, to set them by hand.
    pub fn parameters_mut(&mut self) -> &mut Parameters<IN, H, R, EH, E> {
        &mut self.params
    }

    /// The gradients of the last step.
    #[must_use]
    pub fn gradients(&self) -> &Parameters<IN, H, R, EH, E> {
        &self.grads
    }

    /// BatchNorm's running mean and variance.
    #[must_use]
    pub fn running_statistics(&self) -> (&[f32; EH], &[f32; EH]) {
        (&self.running_mean, &self.running_var)
    }

    /// The optimiser.
    #[must_use]
    pub fn optimizer(&self) -> &O {
        &self.optimizer
    }

    /// The optimiser, to change its hyper-parameters between phases.
    pub fn optimizer_mut(&mut self) -> &mut O {
        &mut self.optimizer
    }

    /// Poisons the next [`compute_gradients`](Self::compute_gradients) (or
    /// [`step`](Self::step)) at `fault` with `value` (NaN, an infinity): the
    /// step must then fail and change nothing.
    #[cfg(feature = "fault-injection")]
    pub fn inject_fault(&mut self, fault: Fault, value: f32) {
        self.fault = Some((fault, value));
    }

    /// Steps completed.
    #[must_use]
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// The representation y and embedding z that the last
    /// [`compute_gradients`](Self::compute_gradients) or [`step`](Self::step)
    /// computed for view 0 (a) or 1 (b), training mode. Empty before the
    /// first step; `view` above 1 reads view b.
    #[must_use]
    pub fn last_forward(&self, view: usize) -> (&[[f32; R]], &[[f32; E]]) {
        let v = &self.views[view.min(1)];
        (&v.y[..self.last_n], &v.z[..self.last_n])
    }

    /// Forward and backward passes of both views, leaving the loss terms and
    /// the parameter gradients (in [`gradients`](Self::gradients)) but
    /// updating nothing.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the views differ in length,
    /// [`Error::TooFewRows`], [`Error::TooManyRows`], [`Error::NonFiniteInput`]
    /// for a NaN or infinity in an input, the loss's errors, and
    /// [`Error::NonFiniteResult`] if a gradient is not finite.
    pub fn compute_gradients(&mut self, x_a: &[[f32; IN]], x_b: &[[f32; IN]]) -> Result<LossTerms, Error> {
        let n = x_a.len();
        if x_b.len() != n {
            return Err(Error::ShapeMismatch);
        }
        if n < 2 {
            return Err(Error::TooFewRows { n });
        }
        if n > N {
            return Err(Error::TooManyRows { n, capacity: N });
        }
        if !x_a.iter().chain(x_b).flatten().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let dims = Parameters::<IN, H, R, EH, E>::DIMS;
        let (arch, lanes, frozen) = (self.config.arch, self.config.options.lanes, self.config.frozen);
        self.last_n = n;
        let p = self.params.tensors();
        for (view, x) in self.views.iter_mut().zip([x_a, x_b]) {
            network::forward(lanes, dims, &arch, &p, x.as_flattened(), &mut view.cache(n));
        }
        #[cfg(feature = "fault-injection")]
        if let Some((Fault::Activation, value)) = self.fault {
            self.fault = None;
            // Poison one hidden activation and let it flow on, as a glitch would.
            let view = &mut self.views[0];
            view.h[0][0] = value;
            network::forward_from_hidden(lanes, dims, &arch, &p, &mut view.cache(n));
        }
        let [va, vb] = &mut self.views;
        // The inputs were checked: a non-finite embedding is an overflow inside.
        let terms = self
            .loss
            .loss_and_gradients(&va.z[..n], &vb.z[..n], &mut va.dz[..n], &mut vb.dz[..n])
            .map_err(|e| if e == Error::NonFiniteInput { Error::NonFiniteResult } else { e })?;

        self.grads.fill_zero();
        let mut g = self.grads.tensors_mut();
        let mut scratch = BackScratch {
            da: self.da[..n].as_flattened_mut(),
            dy: self.dy[..n].as_flattened_mut(),
            dh: self.dh[..n].as_flattened_mut(),
            sums: &mut self.sums,
            sums_xhat: &mut self.sums_xhat,
        };
        for (view, x) in self.views.iter_mut().zip([x_a, x_b]) {
            let (cache, dz) = view.split(n);
            network::backward(lanes, dims, &arch, &p, &mut g, frozen, x.as_flattened(), &cache, dz, &mut scratch);
        }
        #[cfg(feature = "fault-injection")]
        if let Some((Fault::Gradient, value)) = self.fault {
            self.fault = None;
            g[0][0] = value;
        }
        if g.iter().all(|t| t.iter().all(|v| v.is_finite())) { Ok(terms) } else { Err(Error::NonFiniteResult) }
    }

    /// One training step on two views of a batch (n ≤ N rows each, row i of
    /// both views from the same sample): forward, loss, backward, optimiser
    /// update, running statistics.
    ///
    /// # Errors
    ///
    /// Those of [`compute_gradients`](Self::compute_gradients), and
    /// [`Error::NonFiniteResult`] if the update itself would overflow. On any
    /// error the parameters, running statistics, optimiser state and step
    /// count are exactly as they were.
    pub fn step(&mut self, x_a: &[[f32; IN]], x_b: &[[f32; IN]]) -> Result<StepReport, Error> {
        let terms = self.compute_gradients(x_a, x_b)?;
        let lr = self.config.schedule.lr(self.steps);
        self.optimizer.update(&mut self.params, &self.grads, lr, self.config.frozen)?;
        let arch = self.config.arch;
        if arch.batch_norm {
            // Each view passes through BatchNorm once, as in the official
            // code, so each updates the running statistics.
            for view in &self.views {
                batch_norm::update_running(
                    &view.mean,
                    &view.inv_std,
                    arch.bn_eps,
                    x_a.len(),
                    arch.bn_momentum,
                    &mut self.running_mean,
                    &mut self.running_var,
                );
            }
        }
        self.steps = self.steps.saturating_add(1);
        Ok(StepReport { terms, lr, step: self.steps })
    }

    /// The encoder's representation y of any number of inputs, N rows at a
    /// time (the encoder has no BatchNorm, so training and inference agree).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `out` has fewer rows than `x`,
    /// [`Error::NonFiniteInput`] for a NaN or infinity in `x`.
    pub fn represent(&mut self, x: &[[f32; IN]], out: &mut [[f32; R]]) -> Result<(), Error> {
        if out.len() < x.len() {
            return Err(Error::ShapeMismatch);
        }
        if !x.iter().flatten().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let lanes = self.config.options.lanes;
        let p = self.params.tensors();
        let h = &mut self.views[0].h;
        for (xs, ys) in x.chunks(N.max(1)).zip(out.chunks_mut(N.max(1))) {
            let hidden = h[..xs.len()].as_flattened_mut();
            network::encode(
                lanes,
                Parameters::<IN, H, R, EH, E>::DIMS,
                &p,
                xs.as_flattened(),
                hidden,
                ys[..xs.len()].as_flattened_mut(),
            );
        }
        Ok(())
    }

    /// Bytes of a checkpoint of this trainer, with or without the
    /// optimiser's state.
    #[must_use]
    pub const fn checkpoint_bytes(with_optimizer: bool) -> usize {
        checkpoint::HEADER_BYTES + 4 * Self::payload_floats(with_optimizer) + checkpoint::TRAILER_BYTES
    }

    const fn payload_floats(with_optimizer: bool) -> usize {
        let params = Parameters::<IN, H, R, EH, E>::DIMS.parameter_count();
        params + 2 * EH + if with_optimizer { O::STATE_COPIES * params } else { 0 }
    }

    fn header(&self, with_optimizer: bool) -> Header {
        let d = Parameters::<IN, H, R, EH, E>::DIMS;
        let width = |w: usize| u32::try_from(w).unwrap_or(u32::MAX);
        let arch = self.config.arch;
        let flags = if arch.batch_norm { FLAG_BATCH_NORM } else { 0 }
            | if arch.final_bias { FLAG_FINAL_BIAS } else { 0 }
            | if with_optimizer { FLAG_OPTIMIZER } else { 0 };
        Header {
            flags,
            optimizer_kind: if with_optimizer { O::KIND } else { 0 },
            widths: [width(d.input), width(d.hidden), width(d.repr), width(d.expander_hidden), width(d.embed)],
            steps: self.steps,
            optimizer_steps: if with_optimizer { self.optimizer.steps() } else { 0 },
            payload_bytes: width(4 * Self::payload_floats(with_optimizer)),
        }
    }

    /// Writes a checkpoint into `out` (see [`checkpoint`](crate::checkpoint)
    /// for the layout); returns its length, [`checkpoint_bytes`](Self::checkpoint_bytes).
    ///
    /// # Errors
    ///
    /// [`Error::BufferTooSmall`] if `out` is shorter than that.
    pub fn save(&self, out: &mut [u8], with_optimizer: bool) -> Result<usize, Error> {
        let mut w = checkpoint::Writer::new(out, &self.header(with_optimizer))?;
        self.params.tensors().into_iter().for_each(|t| w.put(t));
        w.put(&self.running_mean);
        w.put(&self.running_var);
        if with_optimizer {
            self.optimizer.for_each_state(&mut |t| w.put(t));
        }
        Ok(w.finish())
    }

    /// Restores parameters, running statistics, step count and, when the
    /// checkpoint holds it, the optimiser's state (otherwise the optimiser
    /// starts afresh).
    ///
    /// # Errors
    ///
    /// [`Error::CheckpointCorrupt`] for a wrong length or checksum, a
    /// non-finite value or a negative running variance,
    /// [`Error::CheckpointMagic`], [`Error::CheckpointVersion`], and
    /// [`Error::CheckpointShape`] for other widths, another architecture or
    /// another optimiser. On any error nothing is changed.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let (header, payload) = checkpoint::open(bytes)?;
        let with_optimizer = header.flags & FLAG_OPTIMIZER != 0;
        let expected = self.header(with_optimizer);
        let same_shape = header.flags == expected.flags
            && header.widths == expected.widths
            && header.payload_bytes == expected.payload_bytes
            && header.optimizer_kind == expected.optimizer_kind
            && (header.optimizer_steps == 0 || (with_optimizer && O::COUNTS_STEPS));
        if !same_shape {
            return Err(Error::CheckpointShape);
        }
        // BatchNorm's running variances sit after the parameters and the
        // running means; a negative one would make inference take a square
        // root of a negative number.
        let variances = 4 * (Parameters::<IN, H, R, EH, E>::DIMS.parameter_count() + EH);
        let negative =
            payload.get(variances..variances + 4 * EH).is_none_or(|v| checkpoint::values(v).any(|x| x < 0.0));
        if negative {
            return Err(Error::CheckpointCorrupt);
        }
        let mut r = PayloadReader::new(payload);
        self.params.tensors_mut().into_iter().for_each(|t| r.read_into(t));
        r.read_into(&mut self.running_mean);
        r.read_into(&mut self.running_var);
        if with_optimizer {
            self.optimizer.for_each_state_mut(&mut |t| r.read_into(t));
            self.optimizer.set_steps(header.optimizer_steps);
        } else {
            self.optimizer.reset();
        }
        self.steps = header.steps;
        Ok(())
    }

    /// The embedding z of any number of inputs in inference mode (BatchNorm on
    /// its running statistics), N rows at a time.
    ///
    /// # Errors
    ///
    /// As [`represent`](Self::represent).
    pub fn embed(&mut self, x: &[[f32; IN]], out: &mut [[f32; E]]) -> Result<(), Error> {
        if out.len() < x.len() {
            return Err(Error::ShapeMismatch);
        }
        if !x.iter().flatten().all(|v| v.is_finite()) {
            return Err(Error::NonFiniteInput);
        }
        let dims = Parameters::<IN, H, R, EH, E>::DIMS;
        let (lanes, arch) = (self.config.options.lanes, self.config.arch);
        let p = self.params.tensors();
        let [_, _, _, _, x1w, x1b, gamma, beta, x2w, x2b] = p;
        let view = &mut self.views[0];
        for (xs, zs) in x.chunks(N.max(1)).zip(out.chunks_mut(N.max(1))) {
            let n = xs.len();
            let (h, y, a) =
                (view.h[..n].as_flattened_mut(), view.y[..n].as_flattened_mut(), view.a[..n].as_flattened_mut());
            network::encode(lanes, dims, &p, xs.as_flattened(), h, y);
            linear::forward(lanes, x1w, x1b, y, dims.repr, a);
            if arch.batch_norm {
                batch_norm::normalise_running(a, gamma, beta, arch.bn_eps, &self.running_mean, &self.running_var);
            }
            linear::relu(a);
            let x2b = if arch.final_bias { x2b } else { &[] };
            linear::forward(lanes, x2w, x2b, a, dims.expander_hidden, zs[..n].as_flattened_mut());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use crate::{Error, Pcg32, Sgd, Trainer, TrainerConfig};

    type Tiny = Trainer<4, 3, 4, 2, 4, 3, 3, Sgd<3, 4, 2, 4, 3>>;

    #[test]
    fn a_step_trains_and_a_checkpoint_restores_it() {
        let mut t = Tiny::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        t.init(&mut Pcg32::new(1));
        let a = [[0.1, 0.5, -0.3], [1.0, -0.2, 0.4], [-0.7, 0.3, 0.9], [0.2, 0.2, -1.0]];
        let b = a.map(|r| r.map(|v| v * 1.1));
        let first = t.step(&a, &b).unwrap();
        let mut bytes = [0u8; Tiny::checkpoint_bytes(true)];
        t.save(&mut bytes, true).unwrap();
        let mut u = Tiny::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        u.load(&bytes).unwrap();
        assert_eq!(u.parameters(), t.parameters());
        assert_eq!(t.step(&a, &b), u.step(&a, &b));
        assert!(first.terms.loss.is_finite());
        bytes[50] ^= 4;
        assert_eq!(u.load(&bytes), Err(Error::CheckpointCorrupt));
    }
}
