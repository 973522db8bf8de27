//! The `.safetensors` importer of the checkpoint bridge on arbitrary bytes,
//! and on a real export XORed with the input (the metadata's layer lists,
//! shapes and counts are the file's to set).
//!
//! Invariants: no panic, no overflow, no stall on a long layer list; an
//! accepted file becomes a checkpoint the core accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::{Pcg32, Sgd, TrainerConfig};

#[path = "../../tools/src/layers.rs"]
#[allow(dead_code)]
mod layers;
#[path = "../../tools/src/torch.rs"]
#[allow(dead_code)]
mod torch;

#[path = "common.rs"]
#[allow(dead_code)]
mod common;
use common::Small;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let mut t: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
    t.init(&mut Pcg32::new(3));
    let mut ckpt = vec![0u8; Small::<Sgd>::checkpoint_bytes(true)];
    t.save(&mut ckpt, true).expect("sized by checkpoint_bytes");
    let file = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut real = torch::export(&ckpt, &[]).expect("a real checkpoint exports");
        for (r, x) in real.iter_mut().zip(rest) {
            *r ^= x;
        }
        real
    };
    for like in [None, Some(&ckpt[..])] {
        if let Ok(imported) = torch::import(&file, like) {
            assert!(vicreg::train::checkpoint::inspect(&imported.bytes).is_ok());
        }
    }
});
