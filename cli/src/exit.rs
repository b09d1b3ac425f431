//! How a command ends: its outcome mapped to an exit code, errors printed as one
//! clear message on stderr (never a backtrace).

use std::process::ExitCode;

/// What a command concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Accepted / valid: exit 0.
    Success,
    /// Rejected / invalid: exit 1.
    Failure,
}

/// Prints a usage or configuration error and picks the exit code.
pub fn finish(outcome: anyhow::Result<Outcome>) -> ExitCode {
    match outcome {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::Failure) => ExitCode::from(1),
        Err(error) => {
            eprintln!("tributary: {error:#}");
            ExitCode::from(2)
        }
    }
}
