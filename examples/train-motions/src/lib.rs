//! The BasicMotions recordings as the sensor job reads them (also used by
//! the host tools that prepare the watch firmware's data and checkpoint).

pub mod data;
