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
