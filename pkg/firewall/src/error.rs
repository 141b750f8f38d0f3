//! The error type of the firewall adapter. No I/O.

/// Everything that can go wrong while reading or programming the firewall.
#[derive(Debug, thiserror::Error)]
pub enum FirewallError {
    /// A command could not be started (missing binary, no permission).
    #[error("{context}: starting {program}")]
    Spawn {
        /// What kg was doing.
        context: String,
        /// The program.
        program: String,
        /// Why it could not start.
        #[source]
        source: std::io::Error,
    },
    /// A command ran and failed; its stderr is part of the message.
    #[error("{context}: {command} exited with {status}: {stderr}")]
    Command {
        /// What kg was doing.
        context: String,
        /// The command line (without its stdin).
        command: String,
        /// Exit status as text.
        status: String,
        /// Its stderr, trimmed.
        stderr: String,
    },
    /// A command printed something kg cannot read.
    #[error("reading {what}: unexpected line {line:?}")]
    Parse {
        /// Which output.
        what: String,
        /// The offending line.
        line: String,
    },
    /// A set with kg's name exists with another type or family; kg cannot swap it.
    #[error("set {name} is {found}, expected hash:net family {expected}; destroy it by hand")]
    SetMismatch {
        /// Set name.
        name: String,
        /// Its type and family as found.
        found: String,
        /// The family kg needs.
        expected: String,
    },
}
