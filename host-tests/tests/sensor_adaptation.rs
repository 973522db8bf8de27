//! The firmware's logic on the host: the committed pretrained checkpoint is
//! what pretraining produces, and fine-tuning on the drifted stream adapts
//! the encoder (the firmware's own success criterion), for the firmware's
//! seeds and for others.

use sensor_adapt::{
    AUGMENT, Drift, EVAL_SEED, FINE_TUNE_STEPS, Net, PRETRAIN_STEPS, PRETRAINED, SensorStream, adapted, evaluate,
    fine_tune, new_net, pretrain, train,
};
use vicreg::Pcg32;
use vicreg::augment::ViewPair;

#[test]
fn committed_checkpoint_is_what_pretraining_produces() {
    let mut net: Box<Net> = Box::new(new_net(0.01, PRETRAIN_STEPS));
    let mut pair = Box::new(ViewPair::new());
    assert_eq!(pretrain(&mut net, &mut pair), 0);
    let mut bytes = vec![0u8; Net::checkpoint_bytes(false)];
    net.save(&mut bytes, false).unwrap();
    // The shipped bytes are what the recipe produces. A difference means the
    // arithmetic of training changed: find out which change did it (the
    // tensor named below) before regenerating the file with
    // `cargo run --release -p adapt -- pretrain examples/sensor-adapt/pretrained.ckpt`.
    // The file was made with the AVX2/FMA kernels (as CI's machines run).
    if !host_tests::golden::reproducible_here() {
        return;
    }
    if let Some(difference) = host_tests::golden::difference(&sensor_adapt::NETWORK, &bytes, PRETRAINED) {
        panic!("pretraining no longer reproduces the shipped checkpoint: {difference}");
    }
}

#[test]
fn fine_tuning_on_the_drifted_stream_adapts_the_encoder() {
    let mut net: Box<Net> = Box::new(new_net(0.02, FINE_TUNE_STEPS));
    net.load(PRETRAINED).unwrap();
    let mut pair = Box::new(ViewPair::new());
    let before = evaluate(&mut net, &mut pair, Drift::DEVICE, EVAL_SEED).unwrap();
    let undrifted = evaluate(&mut net, &mut pair, Drift::NONE, EVAL_SEED).unwrap();
    // The drift hurts the pretrained encoder.
    assert!(before.terms.loss > 1.2 * undrifted.terms.loss && before.few_shot_accuracy < undrifted.few_shot_accuracy);
    assert_eq!(fine_tune(&mut net, &mut pair, |_, r| assert!(r.is_ok())), 0);
    let after = evaluate(&mut net, &mut pair, Drift::DEVICE, EVAL_SEED).unwrap();
    assert!(adapted(&before, &after), "before {before:?}\nafter {after:?}");
}

#[test]
fn adaptation_holds_for_other_streams() {
    for seed in 10..14u64 {
        let mut net: Box<Net> = Box::new(new_net(0.02, FINE_TUNE_STEPS));
        net.load(PRETRAINED).unwrap();
        let mut pair = Box::new(ViewPair::new());
        let before = evaluate(&mut net, &mut pair, Drift::DEVICE, seed + 100).unwrap();
        let mut stream = SensorStream::new(seed, Drift::DEVICE);
        let mut rng = Pcg32::new(seed);
        assert_eq!(train(&mut net, &mut stream, &mut pair, &AUGMENT, FINE_TUNE_STEPS, &mut rng, |_, _| {}), 0);
        let after = evaluate(&mut net, &mut pair, Drift::DEVICE, seed + 100).unwrap();
        assert!(adapted(&before, &after), "seed {seed}: before {before:?}\nafter {after:?}");
    }
}

/// The 64 KiB effective-batch configuration: what the firmware's
/// `big-batch` binary runs, here on the host with its figures printed.
#[test]
fn an_effective_batch_of_512_in_micro_batches_of_8_adapts_the_pretrained_encoder() {
    use sensor_adapt::big_batch::{self, MicroNet, STATE_BYTES, SeedRing, Streaming};
    println!(
        "trainer {} B, streaming {} B, seed ring {} B: {STATE_BYTES} B",
        MicroNet::MEMORY_BYTES,
        MicroNet::STREAMING_BYTES,
        core::mem::size_of::<SeedRing>()
    );
    let mut net = Box::new(big_batch::new_net(0.05, 20));
    net.load(sensor_adapt::PRETRAINED).expect("the pretrained checkpoint fits the micro-batch network");
    let mut streaming = Box::new(<Streaming as vicreg::nn::Buffer>::ZERO);
    let mut ring = SeedRing::new();
    let (before, after, failed) = big_batch::fine_tune(&mut net, &mut streaming, &mut ring, 20, |s, r| {
        if let Ok(r) = r {
            println!("step {}: loss {:.3}", s + 1, r.terms.loss);
        }
    })
    .expect("a finite held-out loss");
    println!("held-out loss {:.3} → {:.3}", before.loss, after.loss);
    assert_eq!(failed, 0);
    assert!(after.loss < 0.9 * before.loss, "loss {} → {}", before.loss, after.loss);
}
