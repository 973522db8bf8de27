//! Pretraining for the fine-tuning firmware, and a host run of what the
//! firmware does.
//!
//! `cargo run --release -p adapt -- pretrain OUT` trains the
//! firmware's network on the undrifted sensor stream and writes the
//! checkpoint the firmware embeds (parameters and running statistics, no
//! optimiser state). `… -- fine-tune CHECKPOINT` runs the firmware's
//! adaptation on the host and prints its figures. The `watch-…` and
//! `camera-…` subcommands do the same for the watch and camera firmwares.

use clap::{Parser, Subcommand};
use motion_adapt::watch;
use sensor_adapt::{Drift, EVAL_SEED, Net, PRETRAIN_STEPS, adapted, evaluate, fine_tune, new_net, pretrain};
use std::process::ExitCode;
use vicreg::augment::ViewPair;

/// Pretraining for the firmwares, and host runs of what they do
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Pretrains the sensor firmware's network and writes its checkpoint
    Pretrain {
        /// The checkpoint to write
        out: String,
    },
    /// Runs the sensor firmware's fine-tuning on the host
    FineTune {
        /// The pretrained checkpoint
        checkpoint: String,
    },
    /// Encodes the watch firmware's test recordings
    WatchRecordings {
        /// The file to write
        out: String,
    },
    /// Trains the sensor job's encoder as the job does and writes the watch firmware's checkpoint
    WatchPretrain {
        /// The checkpoint to write
        out: String,
    },
    /// Runs the watch firmware's fine-tuning on the host
    WatchFineTune {
        /// The pretrained checkpoint
        checkpoint: String,
    },
    /// Encodes the camera firmware's images (the test digits)
    CameraImages {
        /// The file to write
        out: String,
    },
    /// Pretrains the camera firmware's CNN and writes its checkpoint
    CameraPretrain {
        /// The checkpoint to write
        out: String,
    },
    /// Runs the camera firmware's fine-tuning on the host
    CameraFineTune {
        /// The pretrained checkpoint
        checkpoint: String,
    },
}

fn main() -> ExitCode {
    let mut pair = Box::new(ViewPair::new());
    match Cli::parse().command {
        Command::Pretrain { out } => {
            let mut n: Box<Net> = Box::new(new_net(0.01, PRETRAIN_STEPS));
            let failed = pretrain(&mut n, &mut pair);
            let mut bytes = vec![0u8; Net::checkpoint_bytes(false)];
            n.save(&mut bytes, false).expect("sized by checkpoint_bytes");
            std::fs::write(&out, &bytes).expect("checkpoint written");
            println!("pretrained {PRETRAIN_STEPS} steps ({failed} failed); {} bytes to {out}", bytes.len());
            for (name, drift) in [("undrifted", Drift::NONE), ("drifted", Drift::DEVICE)] {
                println!("{name}: {:?}", evaluate(&mut n, &mut pair, drift, EVAL_SEED).expect("finite"));
            }
            ExitCode::SUCCESS
        }
        Command::FineTune { checkpoint } => {
            let bytes = std::fs::read(&checkpoint).expect("checkpoint readable");
            let mut n: Box<Net> = Box::new(new_net(0.02, sensor_adapt::FINE_TUNE_STEPS));
            n.load(&bytes).expect("a valid checkpoint");
            let before = evaluate(&mut n, &mut pair, Drift::DEVICE, EVAL_SEED).expect("finite");
            let failed = fine_tune(&mut n, &mut pair, |_, _| {});
            let after = evaluate(&mut n, &mut pair, Drift::DEVICE, EVAL_SEED).expect("finite");
            println!(
                "before: {before:?}\nafter:  {after:?}\nfailed steps: {failed}; adapted: {}",
                adapted(&before, &after)
            );
            ExitCode::SUCCESS
        }
        Command::WatchRecordings { out } => {
            let bytes = adapt::encoded(false).expect("the shipped data loads");
            std::fs::write(&out, &bytes).expect("recordings written");
            println!("{} test recordings, {} bytes, to {out}", bytes.len() / watch::RECORD_BYTES, bytes.len());
            ExitCode::SUCCESS
        }
        Command::WatchPretrain { out } => {
            let bytes = adapt::pretrain().expect("the shipped data loads and trains");
            std::fs::write(&out, &bytes).expect("checkpoint written");
            println!(
                "the host job's encoder ({} epochs, seed {}); {} bytes to {out}",
                train_motions::EPOCHS,
                train_motions::SEED,
                bytes.len()
            );
            ExitCode::SUCCESS
        }
        Command::CameraImages { out } => {
            let bytes = adapt::camera::images().expect("the shipped data loads");
            std::fs::write(&out, &bytes).expect("images written");
            println!(
                "{} test digits, {} bytes, to {out}",
                (bytes.len() - camera_adapt::HEADER_BYTES) / camera_adapt::RECORD_BYTES,
                bytes.len()
            );
            ExitCode::SUCCESS
        }
        Command::CameraPretrain { out } => {
            let (bytes, loss) = adapt::camera::pretrain().expect("pretraining runs");
            std::fs::write(&out, &bytes).expect("checkpoint written");
            println!(
                "pretrained {} epochs (last epoch's mean loss {loss:.3}); {} bytes to {out}",
                adapt::camera::PRETRAIN_EPOCHS,
                bytes.len()
            );
            ExitCode::SUCCESS
        }
        Command::CameraFineTune { checkpoint } => {
            use camera_adapt as cam;
            let bytes = std::fs::read(&checkpoint).expect("checkpoint readable");
            let mut n: Box<cam::Net> = Box::new(cam::new_net(cam::LR, cam::FINE_TUNE_STEPS));
            n.load(&bytes).expect("a valid checkpoint");
            let data = adapt::camera::images().expect("the shipped data loads");
            let images = cam::Images::parse(&data).expect("valid images");
            let mut streaming: Box<cam::Streaming> = Box::new(vicreg::nn::Buffer::ZERO);
            for (name, shift) in [("pretraining camera", cam::Shift::NONE), ("deployed camera", cam::Shift::DEPLOYED)] {
                println!("{name}: {:?}", cam::evaluate(&mut n, &mut streaming, &images, &shift));
            }
            let shift = cam::Shift::DEPLOYED;
            let before = cam::evaluate(&mut n, &mut streaming, &images, &shift).expect("finite");
            let failed = cam::fine_tune(&mut n, &mut streaming, &images, &shift, |s, r| {
                println!("step {}: {:?}", s + 1, r.map(|t| t.loss))
            });
            let after = cam::evaluate(&mut n, &mut streaming, &images, &shift).expect("finite");
            println!(
                "before: {before:?}\nafter:  {after:?}\nfailed steps: {failed}; adapted: {}",
                cam::adapted(&before, &after)
            );
            ExitCode::SUCCESS
        }
        Command::WatchFineTune { checkpoint } => {
            let bytes = std::fs::read(&checkpoint).expect("checkpoint readable");
            let mut n: Box<watch::Net> = Box::new(watch::new_net(watch::FINE_TUNE_STEPS));
            n.load(&bytes).expect("a valid checkpoint");
            let data = adapt::encoded(false).expect("the shipped data loads");
            let recordings = watch::Recordings::parse(&data).expect("valid recordings");
            let mut buffers = Box::new(watch::Buffers::new());
            for (name, drift) in [("same wrist", watch::Drift::NONE), ("other wrist", watch::Drift::OTHER_WRIST)] {
                println!("{name}: {:?}", watch::evaluate(&mut n, &mut buffers, &recordings, &drift, watch::EVAL_SEED));
            }
            let drift = watch::Drift::OTHER_WRIST;
            let before = watch::evaluate(&mut n, &mut buffers, &recordings, &drift, watch::EVAL_SEED).expect("finite");
            let failed = watch::fine_tune(&mut n, &mut buffers, &recordings, &drift, watch::FINE_TUNE_SEED, |s, r| {
                println!("step {}: {:?}", s + 1, r.map(|t| t.loss));
            });
            let after = watch::evaluate(&mut n, &mut buffers, &recordings, &drift, watch::EVAL_SEED).expect("finite");
            println!(
                "before: {before:?}\nafter:  {after:?}\nfailed steps: {failed}; adapted: {}",
                watch::adapted(&before, &after)
            );
            ExitCode::SUCCESS
        }
    }
}
