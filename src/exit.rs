//! Process exit codes, shared by both faces (docs/cli.md, "Exit codes").

/// Done.
pub const OK: u8 = 0;
/// The audit found something at or above `--fail-on`.
pub const FINDINGS: u8 = 1;
/// Anything else went wrong, including a job cancelled or partly failed.
pub const ERROR: u8 = 2;
