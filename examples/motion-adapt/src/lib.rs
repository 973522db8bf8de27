//! Smartwatch recordings for VICReg, `no_std`: the augmentations of
//! inertial windows (shared by the host job `train-motions` and the watch
//! firmware), and everything the firmware does to adapt a pretrained Conv1d
//! encoder to a watch worn on the other wrist.
#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod motion;
pub mod views;
pub mod watch;

/// Channels of a recording: accelerometer x y z, gyroscope x y z.
pub const CHANNELS: usize = 6;
/// Samples per channel (10 s at 10 Hz).
pub const LENGTH: usize = 100;
/// Activities: standing, walking, running, badminton.
pub const CLASSES: usize = 4;
