//! The watch firmware's logic on the host: its stored recordings and its
//! pretrained encoder are what the shipped data and the recipe produce, and
//! fine-tuning on the other wrist adapts the encoder (the firmware's own
//! criterion), for the firmware's seeds and for others.

use motion_adapt::watch::{
    self, Drift, EVAL_SEED, FINE_TUNE_STEPS, Net, PRETRAIN_STEPS, PRETRAINED, RECORDINGS, Recordings, Views, adapted,
    evaluate, new_net,
};
use vicreg::Pcg32;

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

    let mut net: Box<Net> = Box::new(new_net(0.01, PRETRAIN_STEPS));
    assert_eq!(adapt::pretrain(&mut net).unwrap(), 0);
    let mut bytes = vec![0u8; Net::checkpoint_bytes(false)];
    net.save(&mut bytes, false).unwrap();
    // A difference means the arithmetic of training changed (a reordered
    // sum is enough): find out which change did it, from the tensor and the
    // size of the change named below, and whether it is meant, before
    // regenerating the file with
    // `cargo run --release -p adapt -- watch-pretrain examples/motion-adapt/watch.ckpt`.
    // The file was made with the AVX2/FMA kernels (as CI's machines run).
    if !host_tests::golden::reproducible_here() {
        return;
    }
    if let Some(difference) = host_tests::golden::difference(&motion_adapt::watch::WATCH, &bytes, PRETRAINED) {
        panic!("pretraining no longer reproduces examples/motion-adapt/watch.ckpt: {difference}");
    }
}

#[test]
fn the_convolution_flop_count_is_the_layers_by_hand() {
    // 6×96 → Conv1d 8 (k5, s2) → 8×46 → Conv1d 16 (k3, s2) → 16×22; a
    // multiply-add is two flops; forward and weight gradient for both, the
    // input gradient for the second; 8 rows of two views.
    let (first, second) = (46 * 8 * 6 * 5, 22 * 16 * 8 * 3);
    assert_eq!(watch::CONVOLUTION_FLOPS, 2 * (2 * first + 3 * second) * 2 * 8);
}

fn adapt_with(seed: u64) -> (watch::Evaluation, watch::Evaluation, watch::Evaluation) {
    let recordings = Recordings::parse(RECORDINGS).unwrap();
    let mut net: Box<Net> = Box::new(new_net(0.02, FINE_TUNE_STEPS));
    net.load(PRETRAINED).unwrap();
    let mut views = Box::new(Views::new());
    let same = evaluate(&mut net, &mut views, &recordings, &Drift::NONE, EVAL_SEED).unwrap();
    let before = evaluate(&mut net, &mut views, &recordings, &Drift::OTHER_WRIST, EVAL_SEED).unwrap();
    let failed = watch::train(
        &mut net,
        &mut views,
        &recordings,
        &Drift::OTHER_WRIST,
        FINE_TUNE_STEPS,
        &mut Pcg32::new(seed),
        |_, _| {},
    );
    assert_eq!(failed, 0);
    let after = evaluate(&mut net, &mut views, &recordings, &Drift::OTHER_WRIST, EVAL_SEED).unwrap();
    (same, before, after)
}

#[test]
fn fine_tuning_on_the_other_wrist_adapts_the_encoder() {
    // Seed 3 is the firmware's.
    for seed in [3, 10, 11, 12, 13] {
        let (same, before, after) = adapt_with(seed);
        // Moving the watch hurts the pretrained encoder...
        assert!(before.terms.loss > 1.1 * same.terms.loss && before.few_shot_accuracy < same.few_shot_accuracy);
        // ...and fine-tuning on the unlabelled stream wins it back.
        assert!(adapted(&before, &after), "seed {seed}: before {before:?}\nafter {after:?}");
    }
}
