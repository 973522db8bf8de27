//! The `.npy` reader of the checkpoint bridge on arbitrary bytes: shapes,
//! header lengths and byte counts come from the file, so none may wrap.
//!
//! Invariants: no panic, no overflow; an accepted array holds exactly the
//! product of its shape in values.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tools/src/npy.rs"]
mod npy;

fuzz_target!(|data: &[u8]| {
    // Half the inputs start as a real header, so the shape parser is reached.
    let bytes = if data.first().is_some_and(|b| b % 2 == 1) {
        let mut real = npy::encode(&[2, 3], &[1.0; 6]);
        for (r, x) in real.iter_mut().zip(&data[1..]) {
            *r ^= x;
        }
        real
    } else {
        data.to_vec()
    };
    if let Ok((shape, values)) = npy::decode(&bytes) {
        let count = shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
        assert_eq!(count, Some(values.len()), "shape {shape:?}");
    }
});
