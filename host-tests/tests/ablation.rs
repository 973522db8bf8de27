//! The paper's ablation pattern on synthetic clusters: with all three terms
//! the embedding keeps every dimension's spread near γ and a high effective
//! rank; without the variance term (μ = 0) it collapses to a point; without
//! the covariance term (ν = 0) its dimensions become redundant (dimensional
//! collapse). Checked on three seeds each, with margins. The data has 6
//! latent dimensions, 8 clusters and 6 nuisance features (see `Clusters`).

use host_tests::batches::Clusters;
use host_tests::spectrum::{column_stds, effective_rank};
use vicreg::nn::{Layer, Shape};
use vicreg::{AdamW, Config, Pcg32, Trainer, TrainerConfig};

const N: usize = 64;
const CLUSTERS: vicreg::nn::Net = vicreg::nn::Net::new(
    Shape::Flat(24),
    &[Layer::linear(64), Layer::ReLU, Layer::linear(16)],
    &[Layer::linear(32), Layer::BatchNorm, Layer::ReLU, Layer::linear(16).without_bias()],
);
vicreg::network!(Clustered = CLUSTERS, batch N);
type Net = Trainer<Clustered, AdamW>;

struct Outcome {
    min_std_z: f64,
    max_std_z: f64,
    rank_z: f64,
    rank_y: f64,
}

fn train(loss: Config, seed: u64) -> Outcome {
    let mut data = Clusters::<24>::new(8, 6, 6, 1000 + seed);
    let mut t: Box<Net> = Box::new(Trainer::new(TrainerConfig { loss, ..TrainerConfig::new(2e-3) }, AdamW::new(0.0)));
    t.init(&mut Pcg32::new(seed));
    for _ in 0..2000 {
        let (a, b, _) = data.pair(N);
        t.step(&a, &b).expect("a finite step");
    }
    let (a, _, _) = data.pair(512);
    let (mut y, mut z) = (vec![[0.0; 16]; 512], vec![[0.0; 16]; 512]);
    t.represent(&a, &mut y).unwrap();
    // The loss sees training-mode embeddings; measure those, a batch at a time.
    for (chunk, out) in a.chunks(N).zip(z.chunks_mut(N)) {
        t.compute_gradients(chunk, chunk).unwrap();
        out.as_flattened_mut().copy_from_slice(t.last_forward(0).1);
    }
    let stds = column_stds(&z);
    Outcome {
        min_std_z: stds.iter().copied().fold(f64::INFINITY, f64::min),
        max_std_z: stds.iter().copied().fold(0.0, f64::max),
        rank_z: effective_rank(&z),
        rank_y: effective_rank(&y),
    }
}

fn report(name: &str, o: &Outcome) {
    println!(
        "{name}: embedding std {:.3} … {:.3}, effective rank z {:.2} / 16, y {:.2} / 16",
        o.min_std_z, o.max_std_z, o.rank_z, o.rank_y
    );
}

#[test]
fn all_three_terms_keep_spread_and_rank_and_each_ablation_collapses() {
    for seed in 0..3 {
        let full = train(Config::default(), seed);
        report(&format!("seed {seed} full"), &full);
        let no_variance = train(Config { std_coeff: 0.0, ..Config::default() }, seed);
        report(&format!("seed {seed} μ = 0"), &no_variance);
        let no_covariance = train(Config { cov_coeff: 0.0, ..Config::default() }, seed);
        report(&format!("seed {seed} ν = 0"), &no_covariance);

        // (a) every dimension's std near γ = 1, and an effective rank above the
        // data's 6 latent dimensions, in the embedding and the representation.
        assert!(full.min_std_z > 0.8 && full.max_std_z < 1.5, "seed {seed}: full training std out of range");
        assert!(
            full.rank_z > 6.5 && full.rank_y > 6.5,
            "seed {seed}: full training ranks {:.2}, {:.2}",
            full.rank_z,
            full.rank_y
        );
        // (b) μ = 0: the embedding collapses towards a point.
        assert!(no_variance.max_std_z < 0.1, "seed {seed}: μ = 0 did not collapse ({:.3})", no_variance.max_std_z);
        // (c) ν = 0: spread kept by the hinge, but the dimensions are redundant.
        assert!(no_covariance.min_std_z > 0.8, "seed {seed}: ν = 0 lost spread");
        assert!(
            no_covariance.rank_z < 0.6 * full.rank_z,
            "seed {seed}: ν = 0 rank {:.2} vs full {:.2}",
            no_covariance.rank_z,
            full.rank_z
        );
        assert!(no_covariance.rank_y < 0.85 * full.rank_y, "seed {seed}: ν = 0 kept the representation's rank");
    }
}
