//! Checkpoint loading from arbitrary bytes. The first byte picks the mode:
//! raw bytes as they come, or a valid checkpoint whose bytes are XORed with
//! the input and then resealed with a correct checksum (so the checks behind
//! the checksum are reached too).
//!
//! Invariants: no panic; a refused checkpoint changes nothing; an accepted
//! one leaves finite weights and saves back to the same bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::{AdamW, Optimizer, Pcg32, Sgd, TrainerConfig};

#[path = "common.rs"]
mod common;
use common::{Small, bits, finite_weights};

fn check<O: Optimizer>(mut t: Box<Small<O>>, bytes: &[u8]) {
    t.init(&mut Pcg32::new(1));
    let before = bits(&t);
    match t.load(bytes) {
        Err(_) => assert_eq!(bits(&t), before, "a refused checkpoint changed the state"),
        Ok(()) => {
            assert!(finite_weights(&t));
            let with_state = bytes.len() == Small::<O>::checkpoint_bytes(true);
            let mut again = vec![0u8; Small::<O>::checkpoint_bytes(with_state)];
            t.save(&mut again, with_state).expect("sized by checkpoint_bytes");
            assert_eq!(again, bytes, "an accepted checkpoint does not save back to itself");
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let bytes = if mode % 2 == 0 {
        rest.to_vec()
    } else {
        let mut t: Box<Small<Sgd>> = Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0)));
        t.init(&mut Pcg32::new(2));
        let mut valid = vec![0u8; Small::<Sgd>::checkpoint_bytes(mode % 4 == 1)];
        t.save(&mut valid, mode % 4 == 1).expect("sized by checkpoint_bytes");
        for (v, x) in valid.iter_mut().zip(rest) {
            *v ^= x;
        }
        let end = valid.len() - 4;
        let crc = vicreg::train::checkpoint::crc32(&valid[..end]);
        valid[end..].copy_from_slice(&crc.to_le_bytes());
        valid
    };
    check(Box::new(Small::new(TrainerConfig::new(0.1), Sgd::new(0.9, 0.0))), &bytes);
    check(Box::new(Small::new(TrainerConfig::new(0.1), AdamW::new(0.0))), &bytes);
});
