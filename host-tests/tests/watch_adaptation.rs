//! The watch firmware's logic on the host: its stored recordings and its
//! pretrained encoder are what the shipped data and the host job's recipe
//! produce, its convolution flops are the layers' by hand, and fine-tuning
//! on the other wrist adapts the encoder (the firmware's own criterion),
//! for the firmware's seeds and for others.

use motion_adapt::motion::MOTION;
use motion_adapt::watch::{
    self, Buffers, Drift, EVAL_SEED, FINE_TUNE_SEED, FINE_TUNE_STEPS, Net, PRETRAINED, RECORDINGS, Recordings, adapted,
    evaluate, new_net,
};

#[test]
fn shipped_recordings_and_checkpoint_are_what_the_data_and_the_recipe_produce() {
    let encoded = adapt::encoded(false).unwrap();
    assert!(
        encoded == RECORDINGS,
        "examples/motion-adapt/test-recordings.bin differs from data/basicmotions.csv's test split"
    );
    let recordings = Recordings::parse(RECORDINGS).unwrap();
    assert_eq!(recordings.len(), 40);
    // i16 storage loses at most half a step of each channel's scale.
    let all = train_motions::data::load(&train_motions::data::default_path()).unwrap();
    let mut samples = [0.0; 600];
    for (i, r) in all.iter().filter(|r| !r.train).enumerate() {
        recordings.read(i, &Drift::NONE, &mut samples);
        assert_eq!(recordings.label(i), r.label);
        let worst = samples.iter().zip(&r.samples).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
        assert!(worst < 5e-4, "recording {i}: quantisation error {worst}");
    }

    // The watch's trainer loads what the host job's trainer saves.
    let bytes = adapt::pretrain().unwrap();
    let mut net: Box<Net> = Box::new(new_net(FINE_TUNE_STEPS));
    net.load(&bytes).unwrap();
    // A difference means the arithmetic of training changed (a reordered
    // sum is enough): find out which change did it, from the tensor and the
    // size of the change named below, and whether it is meant, before
    // regenerating the file with
    // `cargo run --release -p adapt -- watch-pretrain examples/motion-adapt/watch.ckpt`.
    // The file was made with the AVX2/FMA kernels (as CI's machines run).
    if !host_tests::golden::reproducible_here() {
        return;
    }
    if let Some(difference) = host_tests::golden::difference(&MOTION, &bytes, PRETRAINED) {
        panic!("pretraining no longer reproduces examples/motion-adapt/watch.ckpt: {difference}");
    }
}

#[test]
fn the_convolution_flop_count_is_the_layers_by_hand() {
    // 6×96 → Conv1d 16 (k5) → 16×92 → Conv1d 32 (k5, s2) → 32×44 →
    // Conv1d 32 (k3, s2) → 32×21; BatchNorms at layers 1, 4 and 11, so 8
    // stages. Forward: the first in all 8, the second in 7 (not the stage
    // of the first BatchNorm's statistics), the third in 6. Weight
    // gradients once each; input gradients: the second in the stages of
    // the first BatchNorm's sums and the last (2), the third also in the
    // second BatchNorm's (3). A multiply-add is two flops; 20 rows of two
    // views.
    let (first, second, third) = (92 * 16 * 6 * 5, 44 * 32 * 16 * 5, 21 * 32 * 32 * 3);
    let per_row = (8 + 1) * first + (7 + 1 + 2) * second + (6 + 1 + 3) * third;
    assert_eq!(watch::CONVOLUTION_FLOPS, 2 * per_row * 2 * 20);
}

fn adapt_with(seed: u64) -> (watch::Evaluation, watch::Evaluation, watch::Evaluation) {
    let recordings = Recordings::parse(RECORDINGS).unwrap();
    let mut net: Box<Net> = Box::new(new_net(FINE_TUNE_STEPS));
    net.load(PRETRAINED).unwrap();
    let mut buffers = Box::new(Buffers::new());
    let same = evaluate(&mut net, &mut buffers, &recordings, &Drift::NONE, EVAL_SEED).unwrap();
    let before = evaluate(&mut net, &mut buffers, &recordings, &Drift::OTHER_WRIST, EVAL_SEED).unwrap();
    let failed = watch::fine_tune(&mut net, &mut buffers, &recordings, &Drift::OTHER_WRIST, seed, |_, _| {});
    assert_eq!(failed, 0);
    let after = evaluate(&mut net, &mut buffers, &recordings, &Drift::OTHER_WRIST, EVAL_SEED).unwrap();
    (same, before, after)
}

#[test]
fn fine_tuning_on_the_other_wrist_adapts_the_encoder() {
    for seed in [FINE_TUNE_SEED, 10, 11, 12, 13] {
        let (same, before, after) = adapt_with(seed);
        // Moving the watch hurts the host job's encoder...
        assert!(before.terms.loss > 1.1 * same.terms.loss && before.few_shot_accuracy < same.few_shot_accuracy);
        // ...and fine-tuning on the unlabelled recordings wins it back, to
        // at least what the host job's encoder reaches on them.
        assert!(adapted(&before, &after), "seed {seed}: before {before:?}\nafter {after:?}");
    }
}
