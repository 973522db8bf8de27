//! A user's files survive every way a run can end short: refused, failed at
//! a step, stopped by Ctrl-C; a checkpoint continues in place.

#[test]
fn every_pre_existing_file_survives_and_a_stopped_run_saves_its_state() {
    linear_probe::survival::Job::new(env!("CARGO_BIN_EXE_train-digits"), "train-digits").check_every_path("INT");
}
