//! Deterministic test batches: a small generator, so tests and benchmarks
//! build the same inputs on every machine without a dependency.

/// SplitMix64: a tiny, well-mixed generator for test data.
#[derive(Clone, Debug)]
pub struct SplitMix(u64);

impl SplitMix {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f32 {
        ((self.next_u64() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

/// Two n×d views, row-major: view b is view a plus a small perturbation.
pub fn view_pair(n: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = SplitMix::new(seed);
    let a: Vec<f32> = (0..n * d).map(|_| 1.5 * rng.symmetric()).collect();
    let b = a.iter().map(|x| x + 0.3 * rng.symmetric()).collect();
    (a, b)
}

/// Synthetic unlabelled data with structure to find: `clusters` centres in
/// a `latent`-dimensional space, seen through a fixed random non-linear map
/// (tanh of an affine map) into `IN` features, the last `nuisance` of which
/// are pure noise. Two views of a sample share its latent point and differ
/// in observation noise.
#[derive(Clone, Debug)]
pub struct Clusters<const IN: usize> {
    centres: Vec<Vec<f32>>,
    map: Vec<Vec<f32>>,
    offset: Vec<f32>,
    nuisance: usize,
    rng: SplitMix,
}

impl<const IN: usize> Clusters<IN> {
    /// A data source; `seed` fixes the centres, the map and the draws.
    pub fn new(clusters: usize, latent: usize, nuisance: usize, seed: u64) -> Self {
        let mut rng = SplitMix::new(seed);
        let centres = (0..clusters).map(|_| (0..latent).map(|_| 2.0 * rng.symmetric()).collect()).collect();
        let map = (0..IN - nuisance).map(|_| (0..latent).map(|_| rng.symmetric()).collect()).collect();
        let offset = (0..IN - nuisance).map(|_| 0.5 * rng.symmetric()).collect();
        Self { centres, map, offset, nuisance, rng }
    }

    fn observe(&mut self, latent: &[f32]) -> [f32; IN] {
        let mut x = [0.0; IN];
        for (i, (row, b)) in self.map.iter().zip(&self.offset).enumerate() {
            let s: f32 = row.iter().zip(latent).map(|(w, z)| w * z).sum::<f32>() + b;
            x[i] = s.tanh() + 0.1 * self.rng.symmetric();
        }
        for v in &mut x[IN - self.nuisance..] {
            *v = 1.5 * self.rng.symmetric();
        }
        x
    }

    /// A batch of two views of `n` samples, and each sample's cluster.
    pub fn pair(&mut self, n: usize) -> (Vec<[f32; IN]>, Vec<[f32; IN]>, Vec<usize>) {
        let (mut a, mut b, mut labels) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..n {
            let k = (self.rng.next_u64() % self.centres.len() as u64) as usize;
            let latent: Vec<f32> = self.centres[k].iter().map(|c| c + 0.3 * self.rng.symmetric()).collect();
            a.push(self.observe(&latent));
            b.push(self.observe(&latent));
            labels.push(k);
        }
        (a, b, labels)
    }
}

/// The augmentation the training benchmarks apply: scale, jitter, mask.
pub type StepAugment = (vicreg::augment::Scale, vicreg::augment::Jitter, vicreg::augment::Mask);

/// What the training benchmarks start from: `trainer` initialised from
/// seed 1 (whose generator, returned, then draws the augmentations), a batch
/// of `N` samples uniform in [-1, 1) from seed 2, an empty view pair, and
/// the augmentation.
pub fn step_setup<M: vicreg::nn::Network<Sample = [f32; IN]>, O: vicreg::Optimizer, const N: usize, const IN: usize>(
    trainer: &mut vicreg::Trainer<M, O>,
) -> (vicreg::Pcg32, Vec<[f32; IN]>, Box<vicreg::augment::ViewPair<N, IN>>, StepAugment) {
    use vicreg::augment::{Jitter, Mask, Scale, ViewPair};
    let mut rng = vicreg::Pcg32::new(1);
    trainer.init(&mut rng);
    let mut data = SplitMix::new(2);
    let batch = (0..N).map(|_| core::array::from_fn(|_| data.symmetric())).collect();
    let augment = (Scale { low: 0.8, high: 1.2 }, Jitter { sigma: 0.1 }, Mask { probability: 0.1 });
    (rng, batch, Box::new(ViewPair::new()), augment)
}
