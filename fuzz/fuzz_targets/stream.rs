//! Streamed statistics from arbitrary bytes: `Stream::merge` of raw bytes
//! or of a real encoding XORed with the input and resealed (so the checks
//! behind the checksum are reached), and `Stream::resume` over a state
//! whose header is the input's. Run with overflow checks on.
//!
//! Invariants: no panic, no overflow; a refused merge changes nothing;
//! whatever was accepted, the stream's later calls return values or
//! errors, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vicreg::nn::{AllKinds, Layer, Net, Pass, Place, Shape, Siamese, Stream};
use vicreg::{Lanes, Pcg32};

/// A Conv1d encoder with two BatchNorm layers (six stages), micro-batches
/// of 3.
const NET: Net = Net::new(
    Shape::Map { channels: 2, length: 5 },
    &[Layer::conv1d(3, 3).padding(1), Layer::BatchNorm, Layer::ReLU, Layer::MeanTime, Layer::linear(3)],
    &[Layer::linear(4).without_bias(), Layer::BatchNorm, Layer::ReLU, Layer::linear(3)],
);
const ROWS: usize = 3;
const INPUT: usize = 10;

/// Every call a shard makes after a merge or a resume, whatever it returns.
fn drive(stream: &mut Stream<'_, '_, AllKinds>, params: &[f32], running: &mut [f32], ws: &mut [f32]) {
    let pass = Pass::default();
    let x: Vec<f32> = (0..ROWS * INPUT).map(|i| (i as f32 * 0.37).sin()).collect();
    let mut grads = vec![0.0; params.len()];
    for _ in 0..stream.stages() + 1 {
        let _ = stream.absorb(&pass, params, &mut grads, ws, &x, &x);
        let mut bytes = vec![0u8; stream.encoded_len()];
        let _ = stream.encode(&mut bytes);
        let _ = stream.finish(&pass);
        let _ = (stream.rows(), stream.stage());
    }
    let _ = stream.update_running(pass.norm, running, false);
}

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else { return };
    let mut places = [Place::EMPTY; 9];
    let Ok(siamese) = Siamese::<AllKinds>::new(&NET, ROWS, &mut places) else { return };
    let sizes = siamese.layout().sizes;
    let mut params = vec![0.0; sizes.parameters];
    let mut running = vec![0.0; sizes.running];
    siamese.init(&mut params, &mut running, &mut Pcg32::new(7)).expect("sized");
    let mut ws = vec![0.0; sizes.workspace];
    let mut state = vec![0.0; sizes.stream_state()];
    let x: Vec<f32> = (0..ROWS * INPUT).map(|i| (i as f32 * 0.61).cos()).collect();
    if mode % 3 == 2 {
        // A state whose header (and the values after it) come from the input.
        for (v, chunk) in state.iter_mut().zip(rest.chunks_exact(4)) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        if let Ok(mut stream) = Stream::resume(&siamese, &mut state) {
            drive(&mut stream, &params, &mut running, &mut ws);
        }
        return;
    }
    let mut stream = Stream::new(&siamese, &mut state).expect("sized");
    let mut grads = vec![0.0; sizes.parameters];
    // Go to the stage the first input byte names, absorbing real rows.
    let target = usize::from(rest.first().copied().unwrap_or(0)) % stream.stages();
    while stream.stage() < target {
        stream.absorb(&Pass::default(), &params, &mut grads, &mut ws, &x, &x).expect("real rows");
        if stream.finish(&Pass::default()).is_err() {
            return;
        }
    }
    stream.absorb(&Pass::default(), &params, &mut grads, &mut ws, &x, &x).expect("real rows");
    let bytes = if mode % 3 == 0 {
        rest.to_vec()
    } else {
        let mut valid = vec![0u8; stream.encoded_len()];
        stream.encode(&mut valid).expect("sized by encoded_len");
        for (v, b) in valid.iter_mut().zip(rest.iter().skip(1)) {
            *v ^= b;
        }
        let end = valid.len() - 4;
        let crc = vicreg::train::checkpoint::crc32(&valid[..end]);
        valid[end..].copy_from_slice(&crc.to_le_bytes());
        valid
    };
    let before = (stream.rows(), stream.stage());
    match stream.merge(Lanes::Wide, &bytes) {
        Err(_) => assert_eq!((stream.rows(), stream.stage()), before, "a refused merge changed the stream"),
        Ok(()) => assert!(stream.rows() >= before.0, "a merge lost rows"),
    }
    drive(&mut stream, &params, &mut running, &mut ws);
});
