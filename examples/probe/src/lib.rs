//! What the example training jobs share: a linear probe of a frozen
//! representation (logistic regression on standardised features, as the
//! PyTorch anchors score theirs), the mean over draws of a few labelled
//! examples per class, the loss curves and the representations' 2-D
//! projection as SVG.

pub mod job;
pub mod output;
pub mod pca;
pub mod plot;
pub mod probe;
pub mod readme;
pub mod survival;
pub mod table;

use vicreg::Pcg32;

/// Shuffles `order` in place (Fisher–Yates) from `rng`.
pub fn shuffle(order: &mut [usize], rng: &mut Pcg32) {
    for i in (1..order.len()).rev() {
        let j = vicreg::rand_core::RngCore::next_u32(rng) as usize % (i + 1);
        order.swap(i, j);
    }
}

/// Probe accuracy on the test pairs after fitting on `per_class` labelled
/// training examples per class (all of them for `None`), averaged over
/// `draws` draws of those examples from seeds `seed·1000 + draw`.
pub fn few_label_accuracy(
    train: &[(Vec<f32>, usize)],
    test: &[(Vec<f32>, usize)],
    classes: usize,
    per_class: Option<usize>,
    draws: u64,
    seed: u64,
) -> f64 {
    let (test_x, test_y): (Vec<Vec<f32>>, Vec<usize>) = test.iter().cloned().unzip();
    let score = |subset: &[&(Vec<f32>, usize)]| {
        let (x, y): (Vec<Vec<f32>>, Vec<usize>) = subset.iter().map(|p| (*p).clone()).unzip();
        probe::accuracy(&x, &y, &test_x, &test_y, classes)
    };
    let Some(per_class) = per_class else {
        return score(&train.iter().collect::<Vec<_>>());
    };
    (0..draws)
        .map(|draw| {
            let mut rng = Pcg32::new(seed * 1000 + draw);
            let mut order: Vec<usize> = (0..train.len()).collect();
            shuffle(&mut order, &mut rng);
            let mut taken = vec![0usize; classes];
            let subset: Vec<&(Vec<f32>, usize)> = order
                .iter()
                .map(|&i| &train[i])
                .filter(|(_, y)| {
                    taken[*y] += 1;
                    taken[*y] <= per_class
                })
                .collect();
            score(&subset)
        })
        .sum::<f64>()
        / draws.max(1) as f64
}
