//! The checkpoint generator's command line (the tools' are tested in
//! `tools/tests`): `--help` on stdout and exit 0, `--version`,
//! and a wrong command line refused with exit code 2.

use std::process::Command;

const TOOLS: [&str; 1] = [env!("CARGO_BIN_EXE_adapt")];

#[test]
fn every_tool_has_help_and_version_and_refuses_a_wrong_command_line() {
    for tool in TOOLS {
        for flag in ["--help", "--version"] {
            let out = Command::new(tool).arg(flag).output().expect("the tool runs");
            assert!(out.status.success(), "{tool} {flag}");
            assert!(!out.stdout.is_empty(), "{tool} {flag} printed nothing on stdout");
        }
        let out = Command::new(tool).arg("--no-such-option").output().expect("the tool runs");
        assert_eq!(out.status.code(), Some(2), "{tool} --no-such-option");
        assert!(String::from_utf8_lossy(&out.stderr).contains("--no-such-option"));
    }
}
