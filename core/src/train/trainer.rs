//! [`Trainer`]: a network, its gradients, BatchNorm's running statistics, an
//! optimiser and its state, and every buffer of a VICReg training step, in
//! one value of compile-time size.

use super::checkpoint::{self, CheckpointError, Meta, PayloadReader};
#[cfg(feature = "fault-injection")]
use super::fault::{self, Fault};
use super::optim::{Optimizer, State};
use super::schedule::Schedule;
use crate::error::Error;
use crate::lanes::Lanes;
use crate::loss::{Config, CovarianceSide, LossTerms, Options};
#[cfg(not(feature = "fault-injection"))]
use crate::nn::Poison;
use crate::nn::{Buffer, Frozen, Network, NormConfig, Pass, Siamese, Stream};

/// Everything about a training run that is not a buffer.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainerConfig {
    /// The loss coefficients.
    pub loss: Config,
    /// Covariance formulation and lanes (also used by the layers).
    pub options: Options,
    /// BatchNorm's eps and momentum.
    pub norm: NormConfig,
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
        options: Options { side: CovarianceSide::Auto, lanes: Lanes::Scalar },
        norm: NormConfig { eps: 0.0, momentum: 0.0 },
        frozen: Frozen::NONE,
        schedule: Schedule { base_lr: 0.0, final_lr: 0.0, warmup_steps: 0, total_steps: 0 },
    };

    /// The official loss, PyTorch's BatchNorm settings, nothing frozen, and a
    /// constant learning rate.
    #[must_use]
    pub const fn new(lr: f32) -> Self {
        Self {
            loss: Config::DEFAULT,
            options: Options { side: CovarianceSide::Auto, lanes: Lanes::Wide },
            norm: NormConfig::TORCH,
            frozen: Frozen::NONE,
            schedule: Schedule::constant(lr),
        }
    }

    /// Checks the loss, BatchNorm and schedule settings.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] if any is out of range.
    pub fn validate(&self) -> Result<(), Error> {
        self.pass().validate()?;
        self.schedule.validate()
    }

    /// The settings of a training pass.
    #[must_use]
    pub const fn pass(&self) -> Pass {
        Pass { loss: self.loss, options: self.options, norm: self.norm, frozen: self.frozen }
    }
}

/// Where a [`Trainer`]'s bytes go; every figure is a compile-time constant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Memory {
    /// Parameters and BatchNorm's running statistics.
    pub parameters: usize,
    /// One gradient per parameter.
    pub gradients: usize,
    /// The optimiser and its state (momentum, moments).
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

/// A VICReg training loop's whole state for the network `N` (declared with
/// [`network!`](crate::network), which fixes its batch capacity) and the
/// optimiser `O`: parameters, gradients, BatchNorm's running statistics, the
/// optimiser's state, both views' activations and the loss workspace. No
/// heap; the size is [`Trainer::MEMORY_BYTES`].
///
/// ```
/// use vicreg::nn::{Layer, Net, Shape};
/// use vicreg::train::{AdamW, Trainer, TrainerConfig};
/// use vicreg::Pcg32;
///
/// // 8 features → 16 → 4-d representation; 16 → 8 expander; batches of 16.
/// const SMALL: Net = Net::new(
///     Shape::Flat(8),
///     &[Layer::linear(16), Layer::ReLU, Layer::linear(4)],
///     &[Layer::linear(16), Layer::BatchNorm, Layer::ReLU, Layer::linear(8).without_bias()],
/// );
/// vicreg::network!(Small = SMALL, batch 16);
///
/// let mut trainer = Box::new(Trainer::<Small, AdamW>::new(TrainerConfig::new(1e-3), AdamW::new(0.0)));
/// trainer.init(&mut Pcg32::new(1));
/// let x_a: [[f32; 8]; 16] = core::array::from_fn(|i| core::array::from_fn(|j| ((i * 8 + j) as f32).sin()));
/// let x_b = x_a.map(|row| row.map(|v| v + 0.01));
/// let report = trainer.step(&x_a, &x_b)?;
/// assert_eq!(report.step, 1);
/// # Ok::<(), vicreg::Error>(())
/// ```
pub struct Trainer<N: Network, O: Optimizer> {
    config: TrainerConfig,
    params: N::Params,
    grads: N::Params,
    running: N::Running,
    optimizer: O,
    state: O::State<N::Params>,
    workspace: N::Workspace,
    steps: u32,
    last_n: usize,
    #[cfg(feature = "fault-injection")]
    fault: Option<(Fault, f32)>,
}

impl<N: Network, O: Optimizer + Clone> Clone for Trainer<N, O> {
    fn clone(&self) -> Self {
        Self {
            config: self.config,
            params: self.params,
            grads: self.grads,
            running: self.running,
            optimizer: self.optimizer.clone(),
            state: self.state.clone(),
            workspace: self.workspace,
            steps: self.steps,
            last_n: self.last_n,
            #[cfg(feature = "fault-injection")]
            fault: self.fault,
        }
    }
}

impl<N: Network, O: Optimizer + core::fmt::Debug> core::fmt::Debug for Trainer<N, O> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Trainer")
            .field("net", &N::NET)
            .field("batch", &N::BATCH)
            .field("config", &self.config)
            .field("optimizer", &self.optimizer)
            .field("steps", &self.steps)
            .finish_non_exhaustive()
    }
}

impl<N: Network, O: Optimizer> Trainer<N, O> {
    /// Bytes of the whole training state.
    pub const MEMORY_BYTES: usize = core::mem::size_of::<Self>();

    /// Bytes a streamed step ([`step_streamed`](Self::step_streamed))
    /// needs beside the trainer, whatever the effective batch.
    pub const STREAMING_BYTES: usize = core::mem::size_of::<N::Streaming>();

    /// [`MEMORY_BYTES`](Self::MEMORY_BYTES) by part.
    pub const MEMORY: Memory = {
        let s = N::LAYOUT.sizes;
        Memory {
            parameters: core::mem::size_of::<N::Params>() + core::mem::size_of::<N::Running>(),
            gradients: core::mem::size_of::<N::Params>(),
            optimizer: core::mem::size_of::<O>() + core::mem::size_of::<O::State<N::Params>>(),
            activations: 4 * (2 * s.view + s.backward),
            loss_workspace: 4 * s.loss,
            total: core::mem::size_of::<Self>(),
        }
    };

    /// Bytes of a checkpoint of this trainer, with or without the
    /// optimiser's state.
    #[must_use]
    pub const fn checkpoint_bytes(with_optimizer: bool) -> usize {
        let copies = if with_optimizer { <O::State<N::Params> as State<N::Params>>::COPIES } else { 0 };
        checkpoint::len(&N::NET, copies)
    }

    /// A trainer with every parameter zero: call [`init`](Self::init) (or
    /// [`load`](Self::load) a checkpoint) before training. `const`, and all
    /// zeros but the configuration, so a `static` of it costs no flash.
    #[must_use]
    pub const fn new(config: TrainerConfig, optimizer: O) -> Self {
        Self {
            config,
            params: N::Params::ZERO,
            grads: N::Params::ZERO,
            running: N::Running::ZERO,
            optimizer,
            state: <O::State<N::Params> as State<N::Params>>::ZERO,
            workspace: N::Workspace::ZERO,
            steps: 0,
            last_n: 0,
            #[cfg(feature = "fault-injection")]
            fault: None,
        }
    }

    fn siamese() -> Siamese<'static, N::Kinds> {
        Siamese::with_layout(&N::NET, N::BATCH, N::LAYOUT, N::PLACES)
    }

    /// Draws fresh parameters (PyTorch's default initialisation), resets the
    /// running statistics, the optimiser state and the step count.
    pub fn init<G: rand_core::RngCore + ?Sized>(&mut self, rng: &mut G) {
        // The buffers have the network's lengths by construction.
        let _ = Self::siamese().init(self.params.as_mut(), self.running.as_mut(), rng);
        self.reset_optimizer();
        self.steps = 0;
    }

    fn reset_optimizer(&mut self) {
        for copy in self.state.copies_mut() {
            copy.as_mut().fill(0.0);
        }
        self.optimizer.set_steps(0);
    }

    /// The configuration.
    #[must_use]
    pub fn config(&self) -> &TrainerConfig {
        &self.config
    }

    /// Replaces the configuration (to freeze layers or change the schedule
    /// between phases, say); checked at the next step.
    pub fn set_config(&mut self, config: TrainerConfig) {
        self.config = config;
    }

    /// The parameters, flat in storage order ([`Net::tensors`](crate::nn::Net::tensors)).
    #[must_use]
    pub fn parameters(&self) -> &[f32] {
        self.params.as_ref()
    }

    /// The parameters, to set them by hand.
    pub fn parameters_mut(&mut self) -> &mut [f32] {
        self.params.as_mut()
    }

    /// The gradients of the last step, in the parameters' order.
    #[must_use]
    pub fn gradients(&self) -> &[f32] {
        self.grads.as_ref()
    }

    /// BatchNorm's running statistics: per BatchNorm layer, the means then
    /// the variances.
    #[must_use]
    pub fn running_statistics(&self) -> &[f32] {
        self.running.as_ref()
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

    /// The optimiser's state copies (velocity, or first and second moments).
    #[must_use]
    pub fn optimizer_state(&self) -> &[N::Params] {
        self.state.copies()
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

    /// The representation y and embedding z (flat, row-major) that the last
    /// [`compute_gradients`](Self::compute_gradients) or [`step`](Self::step)
    /// computed for view 0 (a) or 1 (b), training mode. Empty before the
    /// first step; `view` above 1 reads view b. [`represent`](Self::represent)
    /// and [`embed`](Self::embed) reuse view a's buffers.
    #[must_use]
    pub fn last_forward(&self, view: usize) -> (&[f32], &[f32]) {
        Self::siamese().last_forward(self.workspace.as_ref(), view.min(1), self.last_n)
    }

    /// Forward and backward passes of both views, leaving the loss terms and
    /// the parameter gradients (in [`gradients`](Self::gradients)) but
    /// updating nothing.
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if the views differ in length,
    /// [`Error::TooFewRows`], [`Error::TooManyRows`], [`Error::NonFiniteInput`]
    /// for a NaN or infinity in an input, [`Error::InvalidConfig`], the
    /// loss's errors, and [`Error::NonFiniteResult`] if an activation, a
    /// batch statistic or a gradient is not finite.
    pub fn compute_gradients(&mut self, x_a: &[N::Sample], x_b: &[N::Sample]) -> Result<LossTerms, Error> {
        self.config.validate()?;
        #[cfg(feature = "fault-injection")]
        let poison = fault::take(&mut self.fault);
        #[cfg(not(feature = "fault-injection"))]
        let poison = Poison::None;
        self.last_n = 0;
        let result = Self::siamese().gradients_poisoned(
            &self.config.pass(),
            self.params.as_ref(),
            self.grads.as_mut(),
            self.workspace.as_mut(),
            N::Sample::flatten(x_a),
            N::Sample::flatten(x_b),
            poison,
        );
        if result.is_ok() {
            self.last_n = x_a.len();
        }
        result
    }

    /// One training step on two views of a batch (n ≤ `N::BATCH` rows each,
    /// row i of both views from the same sample): forward, loss, backward,
    /// optimiser update, running statistics.
    ///
    /// # Errors
    ///
    /// Those of [`compute_gradients`](Self::compute_gradients), the
    /// optimiser's [`Error::InvalidConfig`], and [`Error::NonFiniteResult`]
    /// if the update or the running statistics would overflow. On any error
    /// the parameters, running statistics, optimiser state and step count are
    /// exactly as they were (the gradients and activations are scratch and
    /// show the refused batch).
    pub fn step(&mut self, x_a: &[N::Sample], x_b: &[N::Sample]) -> Result<StepReport, Error> {
        let terms = self.compute_gradients(x_a, x_b)?;
        let (siamese, n, norm) = (Self::siamese(), x_a.len(), self.config.norm);
        // Every new value is computed and checked before any is written.
        if !siamese.update_running(norm, self.workspace.as_ref(), n, self.running.as_mut(), false) {
            return Err(Error::NonFiniteResult);
        }
        let report = self.update(terms)?;
        siamese.update_running(norm, self.workspace.as_ref(), n, self.running.as_mut(), true);
        Ok(report)
    }

    /// The optimiser's update from the gradients of `terms`' batch.
    fn update(&mut self, terms: LossTerms) -> Result<StepReport, Error> {
        let lr = self.config.schedule.lr(self.steps);
        let (first, second) = split_state(self.state.copies_mut());
        let tensors = Self::siamese().tensors();
        self.optimizer.update(
            &tensors,
            self.params.as_mut(),
            self.grads.as_ref(),
            first,
            second,
            lr,
            self.config.frozen,
        )?;
        self.steps = self.steps.saturating_add(1);
        Ok(StepReport { terms, lr, step: self.steps })
    }

    /// The loss and gradients of an effective batch of `n` rows, any
    /// number, streamed through the trainer's capacity `N::BATCH` in
    /// micro-batches (see [`Stream`]): exactly those of the whole batch.
    /// `fill(first, x_a, x_b)` writes rows `first..first + x_a.len()` of
    /// both views; it is called once per micro-batch in each of the 2k + 2
    /// stages (k BatchNorm layers) and must write the same rows every time
    /// (replay them, or regenerate them from a stored seed). `streaming`
    /// holds the stream's state and one micro-batch of inputs:
    /// [`STREAMING_BYTES`](Self::STREAMING_BYTES), whatever n.
    ///
    /// # Errors
    ///
    /// Those of [`Stream::absorb`] and [`Stream::finish`]
    /// ([`Error::TooFewRows`] for n < 2).
    pub fn compute_gradients_streamed<F>(
        &mut self,
        streaming: &mut N::Streaming,
        n: usize,
        mut fill: F,
    ) -> Result<LossTerms, Error>
    where
        F: FnMut(usize, &mut [N::Sample], &mut [N::Sample]),
    {
        self.config.validate()?;
        self.last_n = 0;
        let siamese = Self::siamese();
        let s = N::LAYOUT.sizes;
        let (state, inputs) = streaming.as_mut().split_at_mut(s.stream_state());
        let (x_a, x_b) = inputs.split_at_mut(N::BATCH * s.input);
        let mut stream = Stream::new(&siamese, state)?;
        stream.gradients(
            &self.config.pass(),
            self.params.as_ref(),
            self.grads.as_mut(),
            self.workspace.as_mut(),
            (x_a, x_b),
            n,
            |first, a, b| fill(first, N::Sample::rows_mut(a), N::Sample::rows_mut(b)),
        )
    }

    /// One training step on an effective batch of `n` rows, any number,
    /// streamed through the trainer's capacity `N::BATCH` in micro-batches:
    /// [`compute_gradients_streamed`](Self::compute_gradients_streamed),
    /// then the optimiser's update and the running statistics (the whole
    /// batch's, as a full batch would fold them in).
    ///
    /// # Errors
    ///
    /// As [`compute_gradients_streamed`](Self::compute_gradients_streamed),
    /// and as [`step`](Self::step) for the update.
    pub fn step_streamed<F>(&mut self, streaming: &mut N::Streaming, n: usize, fill: F) -> Result<StepReport, Error>
    where
        F: FnMut(usize, &mut [N::Sample], &mut [N::Sample]),
    {
        let terms = self.compute_gradients_streamed(streaming, n, fill)?;
        let siamese = Self::siamese();
        let state = &mut streaming.as_mut()[..N::LAYOUT.sizes.stream_state()];
        let mut stream = Stream::resume(&siamese, state)?;
        let norm = self.config.norm;
        if !stream.update_running(norm, self.running.as_mut(), false) {
            return Err(Error::NonFiniteResult);
        }
        let report = self.update(terms)?;
        stream.update_running(norm, self.running.as_mut(), true);
        Ok(report)
    }

    /// The encoder's representation y of any number of inputs, `N::BATCH`
    /// rows at a time, in inference mode (BatchNorm on its running
    /// statistics).
    ///
    /// # Errors
    ///
    /// [`Error::ShapeMismatch`] if `out` has fewer rows than `x`,
    /// [`Error::NonFiniteInput`] for a NaN or infinity in `x`,
    /// [`Error::InvalidConfig`] for bad BatchNorm settings,
    /// [`Error::NonFiniteResult`] if the output overflows.
    pub fn represent(&mut self, x: &[N::Sample], out: &mut [N::Repr]) -> Result<(), Error> {
        let out = N::Repr::flatten_mut(out);
        Self::siamese().represent(
            self.config.options.lanes,
            self.config.norm,
            self.params.as_ref(),
            self.running.as_ref(),
            self.workspace.as_mut(),
            N::Sample::flatten(x),
            out,
        )
    }

    /// The embedding z of any number of inputs in inference mode.
    ///
    /// # Errors
    ///
    /// As [`represent`](Self::represent).
    pub fn embed(&mut self, x: &[N::Sample], out: &mut [N::Embedding]) -> Result<(), Error> {
        let out = N::Embedding::flatten_mut(out);
        Self::siamese().embed(
            self.config.options.lanes,
            self.config.norm,
            self.params.as_ref(),
            self.running.as_ref(),
            self.workspace.as_mut(),
            N::Sample::flatten(x),
            out,
        )
    }

    /// Writes a checkpoint into `out` (see [`checkpoint`](super::checkpoint)
    /// for the layout); returns its length, [`checkpoint_bytes`](Self::checkpoint_bytes).
    ///
    /// A network without parameters has no optimiser state: its checkpoint
    /// holds none, whatever `with_optimizer` asks (so that it loads back).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::BufferTooSmall`] if `out` is shorter than that.
    pub fn save(&self, out: &mut [u8], with_optimizer: bool) -> Result<usize, CheckpointError> {
        let with_optimizer = with_optimizer && N::LAYOUT.sizes.parameters > 0;
        let meta = Meta {
            optimizer_kind: if with_optimizer { O::KIND } else { 0 },
            steps: self.steps,
            optimizer_steps: if with_optimizer { self.optimizer.steps() } else { 0 },
        };
        let copies = if with_optimizer { self.state.copies().len() } else { 0 };
        let mut w = checkpoint::Writer::new(out, &N::NET, &N::LAYOUT.sizes, &meta, copies)?;
        w.put(self.params.as_ref());
        w.put(self.running.as_ref());
        for copy in &self.state.copies()[..copies] {
            w.put(copy.as_ref());
        }
        Ok(w.finish())
    }

    /// Restores parameters, running statistics, step count and, when the
    /// checkpoint holds it, the optimiser's state (otherwise the optimiser
    /// starts afresh).
    ///
    /// # Errors
    ///
    /// [`CheckpointError::Corrupt`], [`CheckpointError::Magic`] and
    /// [`CheckpointError::Version`] for bytes that are not a sound
    /// checkpoint; [`CheckpointError::Input`], [`CheckpointError::Depth`] and
    /// [`CheckpointError::Layer`] (naming the first layer that differs) for
    /// another network; [`CheckpointError::Optimizer`] for another
    /// optimiser's state. On any error nothing is changed.
    pub fn load(&mut self, bytes: &[u8]) -> Result<(), CheckpointError> {
        let raw = checkpoint::open_raw(bytes)?;
        checkpoint::same_network(&raw, &N::NET)?;
        let sizes = &N::LAYOUT.sizes;
        let found = checkpoint::copies_of(&raw, sizes.parameters, sizes.running)?;
        let with_optimizer = found > 0;
        let copies = self.state.copies().len();
        if with_optimizer && (raw.meta.optimizer_kind != O::KIND || found != copies) {
            return Err(CheckpointError::Optimizer { found: raw.meta.optimizer_kind });
        }
        if raw.meta.optimizer_steps != 0 && !(with_optimizer && O::COUNTS_STEPS) {
            return Err(CheckpointError::Corrupt);
        }
        let variances = N::PLACES.iter().filter(|p| p.layer.running(p.at.input) > 0).map(|p| {
            let c = p.at.input.channels();
            (p.at.running + c, c)
        });
        if !checkpoint::variances_sound(raw.payload, sizes.parameters, variances) {
            return Err(CheckpointError::Corrupt);
        }
        let model_values = sizes.parameters + sizes.running;
        if with_optimizer {
            // State the optimiser could never have written (a negative second
            // moment) would stall every later step: refuse it now.
            let mut probe = PayloadReader::new(raw.payload);
            probe.skip(model_values);
            for copy in 0..copies {
                if !O::state_valid(copy, probe.peek(sizes.parameters)) {
                    return Err(CheckpointError::Corrupt);
                }
                probe.skip(sizes.parameters);
            }
        }
        let mut r = PayloadReader::new(raw.payload);
        r.read_into(self.params.as_mut());
        r.read_into(self.running.as_mut());
        if with_optimizer {
            for copy in self.state.copies_mut() {
                r.read_into(copy.as_mut());
            }
            self.optimizer.set_steps(raw.meta.optimizer_steps);
        } else {
            self.reset_optimizer();
        }
        self.steps = raw.meta.steps;
        Ok(())
    }
}

/// The first two state copies as slices (empty where absent).
fn split_state<P: Buffer>(copies: &mut [P]) -> (&mut [f32], &mut [f32]) {
    match copies {
        [] => (&mut [], &mut []),
        [a] => (a.as_mut(), &mut []),
        [a, b, ..] => (a.as_mut(), b.as_mut()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Trainer, TrainerConfig};
    use crate::nn::{Layer, Net, Shape};
    use crate::train::checkpoint::CheckpointError;
    use crate::{Pcg32, Sgd};

    const TINY: Net = Net::new(
        Shape::Map { channels: 1, length: 3 },
        &[Layer::conv1d(2, 2), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(2)],
        &[Layer::linear(4), Layer::BatchNorm, Layer::ReLU, Layer::linear(3).without_bias()],
    );
    crate::network!(Tiny = TINY, batch 4);
    type T = Trainer<Tiny, Sgd>;

    /// A batch of four samples and a second view of it.
    fn views() -> ([[f32; 3]; 4], [[f32; 3]; 4]) {
        let a = [[0.1, 0.5, -0.3], [1.0, -0.2, 0.4], [-0.7, 0.3, 0.9], [0.2, 0.2, -1.0]];
        (a, a.map(|r| r.map(|v| v * 1.1)))
    }

    #[test]
    fn a_step_trains_and_a_checkpoint_restores_it() {
        let mut t = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        t.init(&mut Pcg32::new(1));
        let (a, b) = views();
        let (before, running) = (t.parameters().to_vec(), t.running_statistics().to_vec());
        let first = t.step(&a, &b).unwrap();
        assert!(first.terms.loss.is_finite());
        // The step moved every trained tensor and the running statistics.
        assert!(t.parameters() != before.as_slice());
        assert!(t.running_statistics() != running.as_slice());
        let mut bytes = [0u8; T::checkpoint_bytes(true)];
        t.save(&mut bytes, true).unwrap();
        let mut u = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        u.load(&bytes).unwrap();
        assert_eq!(u.parameters(), t.parameters());
        assert_eq!(t.step(&a, &b), u.step(&a, &b));
        assert_eq!(u.parameters(), t.parameters());
        bytes[50] ^= 4;
        assert_eq!(u.load(&bytes), Err(CheckpointError::Corrupt));
    }

    #[test]
    fn memory_is_four_bytes_per_value_of_each_part() {
        let s = TINY.sizes(4);
        let m = T::MEMORY;
        assert_eq!((m.parameters, m.gradients), (4 * (s.parameters + s.running), 4 * s.parameters));
        // SGD's state is one momentum copy.
        assert_eq!(m.optimizer, core::mem::size_of::<Sgd>() + 4 * s.parameters);
        assert_eq!((m.activations, m.loss_workspace), (4 * (2 * s.view + s.backward), 4 * s.loss));
        assert_eq!(m.total, T::MEMORY_BYTES);
        assert!(m.parameters + m.gradients + m.optimizer + m.activations + m.loss_workspace <= m.total);
    }

    #[test]
    fn a_bad_setting_is_refused_by_validate() {
        assert_eq!(TrainerConfig::new(0.05).validate(), Ok(()));
        let mut bad = TrainerConfig::new(0.05);
        bad.loss.std_coeff = -1.0;
        assert_eq!(bad.validate(), Err(crate::Error::InvalidConfig));
        let mut bad = TrainerConfig::new(0.05);
        bad.norm.eps = 0.0;
        assert_eq!(bad.validate(), Err(crate::Error::InvalidConfig));
    }

    #[test]
    fn init_resets_the_optimiser_and_loading_without_its_state_does_too() {
        let mut t = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        t.init(&mut Pcg32::new(1));
        let (a, b) = views();
        t.step(&a, &b).unwrap();
        let mut bytes = [0u8; T::checkpoint_bytes(false)];
        t.save(&mut bytes, false).unwrap();
        assert!(t.optimizer_state()[0].iter().any(|v| *v != 0.0), "a step with momentum leaves some");
        t.load(&bytes).unwrap();
        assert!(t.optimizer_state()[0].iter().all(|v| *v == 0.0), "loaded without state: none");
        t.step(&a, &b).unwrap();
        t.init(&mut Pcg32::new(2));
        assert!(t.optimizer_state()[0].iter().all(|v| *v == 0.0) && t.steps() == 0);
    }

    #[test]
    fn another_optimisers_state_is_refused() {
        // LARS keeps one copy as SGD does: only the kind tells them apart.
        let mut lars = Trainer::<Tiny, crate::Lars>::new(TrainerConfig::new(0.05), crate::Lars::new(0.0));
        lars.init(&mut Pcg32::new(1));
        let mut bytes = [0u8; T::checkpoint_bytes(true)];
        lars.save(&mut bytes, true).unwrap();
        let mut sgd = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        assert_eq!(sgd.load(&bytes), Err(CheckpointError::Optimizer { found: 3 }));
    }

    #[test]
    fn debug_names_the_trainer_and_its_parts() {
        let t = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        // The network's declaration makes it long: its start, and its length.
        let out = crate::error::tests::written(format_args!("{t:?}"));
        assert!(out.as_str().starts_with("Trainer { net: ") && out.len > 200, "{} bytes", out.len);
    }

    #[test]
    fn a_checkpoint_describes_its_network_and_payload() {
        let s = TINY.sizes(4);
        let mut t = T::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        t.init(&mut Pcg32::new(1));
        for (with, copies) in [(false, 0), (true, 1)] {
            let mut bytes = [0u8; T::checkpoint_bytes(true)];
            let len = T::checkpoint_bytes(with);
            t.save(&mut bytes[..len], with).unwrap();
            let info = crate::train::checkpoint::inspect(&bytes[..len]).unwrap();
            assert_eq!((info.parameters, info.running, info.optimizer_copies), (s.parameters, s.running, copies));
            assert_eq!(info.model_values(), s.parameters + s.running);
            assert_eq!(info.values(), s.parameters + s.running + copies * s.parameters);
            assert_eq!((info.depth(), info.encoder_layers, info.input), (9, 5, TINY.input));
            assert!(info.layers().eq(TINY.encoder.iter().chain(TINY.expander).copied()));
        }
    }

    /// A network without parameters (ReLU alone): every state it saves
    /// loads back and is described, with or without the optimiser's.
    const BARE: Net = Net::new(Shape::Flat(3), &[Layer::ReLU], &[]);
    crate::network!(Bare = BARE, batch 4);

    #[test]
    fn a_network_without_parameters_reloads_what_it_saved() {
        type B = Trainer<Bare, Sgd>;
        let mut t = B::new(TrainerConfig::new(0.05), Sgd::new(0.9, 0.0));
        t.init(&mut Pcg32::new(1));
        for with in [false, true] {
            let mut bytes = [0u8; B::checkpoint_bytes(true)];
            let len = t.save(&mut bytes, with).unwrap();
            assert_eq!(len, B::checkpoint_bytes(with));
            let info = crate::train::checkpoint::inspect(&bytes[..len]).unwrap();
            assert_eq!((info.parameters, info.optimizer_copies), (0, 0));
            t.load(&bytes[..len]).unwrap();
        }
    }
}
