//! The camera firmware's data and checkpoint: the test digits as it stores
//! them, and its CNN pretrained on the training digits as the camera of
//! pretraining saw them.

use camera_adapt::{CAMERA, Images, PIXELS};
use vicreg::augment::ViewPair;
use vicreg::{AdamW, Pcg32, Schedule, Trainer, TrainerConfig};

/// Images per pretraining batch.
const BATCH: usize = 128;
vicreg::network!(
    /// The camera's CNN in the host's batches.
    CameraHost = CAMERA, batch BATCH
);

/// Pretraining epochs over the 1,437 training digits.
pub const PRETRAIN_EPOCHS: usize = 40;

/// `(train, label, pixels 0–16)` rows of the shipped digits.
fn digits() -> Result<Vec<(bool, usize, Vec<u8>)>, String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/digits.csv");
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    text.lines()
        .skip(1)
        .map(|line| {
            let fields: Vec<&str> = line.split(',').collect();
            let label = fields.get(1).and_then(|l| l.parse().ok()).ok_or(format!("bad line: {line}"))?;
            let pixels: Vec<u8> = fields[2..]
                .iter()
                .map(|p| p.parse().map_err(|_| format!("bad pixel in {line}")))
                .collect::<Result<_, _>>()?;
            Ok((fields[0] == "train", label, pixels))
        })
        .collect()
}

/// The test digits in the firmware's layout.
///
/// # Errors
///
/// The data file that cannot be read, or a row out of range.
pub fn images() -> Result<Vec<u8>, String> {
    let test: Vec<(usize, Vec<u8>)> =
        digits()?.into_iter().filter(|(train, _, _)| !train).map(|(_, l, p)| (l, p)).collect();
    let mut out = vec![0u8; Images::bytes_for(test.len())];
    Images::encode(test.iter().map(|(l, p)| (*l, p.as_slice())), &mut out).ok_or("a digit out of range")?;
    Ok(out)
}

/// The CNN pretrained on the training digits, unshifted, with the main
/// job's views: AdamW 2e-3, weight decay 1e-4, a warm-up of 50 steps then a
/// cosine, [`PRETRAIN_EPOCHS`] epochs. Returns the checkpoint (parameters
/// and running statistics, no optimiser state) and the last epoch's loss.
///
/// # Errors
///
/// The data that cannot be read, or a step that fails.
pub fn pretrain() -> Result<(Vec<u8>, f32), String> {
    let train: Vec<[f32; PIXELS]> = digits()?
        .into_iter()
        .filter(|(train, _, _)| *train)
        .map(|(_, _, p)| core::array::from_fn(|j| f32::from(p[j]) / 16.0))
        .collect();
    let steps = u32::try_from(PRETRAIN_EPOCHS * train.len().div_ceil(BATCH)).map_err(|e| e.to_string())?;
    let schedule = Schedule { base_lr: 2e-3, final_lr: 0.0, warmup_steps: 50, total_steps: steps };
    let mut net: Box<Trainer<CameraHost, AdamW>> =
        Box::new(Trainer::new(TrainerConfig { schedule, ..TrainerConfig::new(2e-3) }, AdamW::new(1e-4)));
    let mut rng = Pcg32::new(7);
    net.init(&mut rng);
    let mut pair: Box<ViewPair<BATCH, PIXELS>> = Box::new(ViewPair::new());
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut last = 0.0;
    for _ in 0..PRETRAIN_EPOCHS {
        // Fisher–Yates with the run's generator.
        for i in (1..order.len()).rev() {
            let j = vicreg::below(&mut rng, u32::try_from(i + 1).unwrap_or(u32::MAX)) as usize;
            order.swap(i, j);
        }
        let (mut sum, mut count) = (0.0, 0.0);
        for chunk in order.chunks(BATCH) {
            let batch: Vec<[f32; PIXELS]> = chunk.iter().map(|&i| train[i]).collect();
            let (a, b) = pair.generate(&batch, &digits_net::IMAGE_VIEWS, &mut rng).map_err(|e| e.to_string())?;
            sum += net.step(a, b).map_err(|e| e.to_string())?.terms.loss;
            count += 1.0;
        }
        last = sum / count;
    }
    let mut bytes = vec![0u8; Trainer::<CameraHost, AdamW>::checkpoint_bytes(false)];
    net.save(&mut bytes, false).map_err(|e| e.to_string())?;
    Ok((bytes, last))
}
