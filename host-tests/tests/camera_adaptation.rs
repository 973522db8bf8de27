//! The camera firmware's logic on the host: its stored images and its
//! pretrained CNN are what the shipped data and the recipe produce, and
//! fine-tuning on the deployed camera's images adapts the encoder (the
//! firmware's own criterion, and by a margin), with the firmware's seeds.

use camera_adapt::{
    CAMERA, FINE_TUNE_STEPS, IMAGES, Images, LR, Net, PRETRAINED, Shift, Streaming, adapted, evaluate, fine_tune,
    new_net,
};
use vicreg::nn::Buffer;

#[test]
fn shipped_images_and_checkpoint_are_what_the_data_and_the_recipe_produce() {
    assert!(
        adapt::camera::images().unwrap() == IMAGES,
        "examples/camera-adapt/test-images.bin differs from data/digits.csv's test split"
    );
    let images = Images::parse(IMAGES).unwrap();
    assert_eq!(images.len(), 360);
    // The host trainer (batches of 128) is built in place on the stack
    // before it is boxed: more than a test thread's 2 MiB without
    // optimisation, so pretraining gets a thread of its own.
    let pretraining = std::thread::Builder::new().stack_size(64 << 20).spawn(adapt::camera::pretrain).unwrap();
    let (bytes, _) = pretraining.join().unwrap().unwrap();
    // A difference means the arithmetic of training changed: find out which
    // change did it and whether it is meant, before regenerating the file
    // with `cargo run --release -p adapt -- camera-pretrain
    // examples/camera-adapt/camera.ckpt`. Made with the AVX2/FMA kernels.
    if !host_tests::golden::reproducible_here() {
        return;
    }
    if let Some(difference) = host_tests::golden::difference(&CAMERA, &bytes, PRETRAINED) {
        panic!("pretraining no longer reproduces examples/camera-adapt/camera.ckpt: {difference}");
    }
}

#[test]
fn the_deployed_camera_hurts_and_fine_tuning_on_its_images_adapts() {
    let images = Images::parse(IMAGES).unwrap();
    let mut net: Box<Net> = Box::new(new_net(LR, FINE_TUNE_STEPS));
    net.load(PRETRAINED).unwrap();
    let mut streaming: Box<Streaming> = Box::new(Streaming::ZERO);
    let same = evaluate(&mut net, &mut streaming, &images, &Shift::NONE).unwrap();
    let before = evaluate(&mut net, &mut streaming, &images, &Shift::DEPLOYED).unwrap();
    // The shift matters: the held-out probe loses ten points or more.
    assert!(before.few_shot_accuracy < same.few_shot_accuracy - 0.1, "{same:?} {before:?}");
    let failed = fine_tune(&mut net, &mut streaming, &images, &Shift::DEPLOYED, |_, _| {});
    let after = evaluate(&mut net, &mut streaming, &images, &Shift::DEPLOYED).unwrap();
    assert_eq!(failed, 0);
    assert!(adapted(&before, &after), "{before:?} {after:?}");
    // By a margin: 15 of the 150 held-out queries or more, and a tenth of
    // the loss.
    assert!(after.few_shot_accuracy >= before.few_shot_accuracy + 0.1, "{before:?} {after:?}");
    assert!(after.terms.loss <= 0.9 * before.terms.loss, "{before:?} {after:?}");
}
