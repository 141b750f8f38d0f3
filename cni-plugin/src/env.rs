//! The CNI_* environment variables, validated per command (code 4 on errors). Reads the
//! process environment only.

use kilo_mesh::types::IfName;

use crate::error::{CniError, CniResult, Code};

/// The commands of CNI 1.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// ADD
    Add,
    /// DEL
    Del,
    /// CHECK
    Check,
    /// VERSION
    Version,
    /// GC
    Gc,
    /// STATUS
    Status,
}

/// The invocation environment.
#[derive(Debug, Clone)]
pub struct Env {
    /// CNI_CONTAINERID.
    pub container_id: String,
    /// CNI_NETNS (may be empty for DEL).
    pub netns: String,
    /// CNI_IFNAME.
    pub ifname: String,
    /// CNI_PATH.
    pub path: String,
}

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_default()
}

fn missing(name: &str) -> CniError {
    CniError::new(
        Code::InvalidEnv,
        format!("required env variable {name} missing"),
        "",
    )
}

/// Parses `CNI_COMMAND` only.
pub fn command() -> CniResult<Command> {
    match var("CNI_COMMAND").as_str() {
        "ADD" => Ok(Command::Add),
        "DEL" => Ok(Command::Del),
        "CHECK" => Ok(Command::Check),
        "VERSION" => Ok(Command::Version),
        "GC" => Ok(Command::Gc),
        "STATUS" => Ok(Command::Status),
        "" => Err(missing("CNI_COMMAND")),
        other => Err(CniError::new(
            Code::InvalidEnv,
            format!("unknown CNI_COMMAND {other:?}"),
            "",
        )),
    }
}

/// Reads and validates the environment for `command`.
pub fn read(command: Command) -> CniResult<Env> {
    let env = Env {
        container_id: var("CNI_CONTAINERID"),
        netns: var("CNI_NETNS"),
        ifname: var("CNI_IFNAME"),
        path: var("CNI_PATH"),
    };
    let needs_attachment = matches!(command, Command::Add | Command::Del | Command::Check);
    if needs_attachment {
        if env.container_id.is_empty() {
            return Err(missing("CNI_CONTAINERID"));
        }
        if !valid_container_id(&env.container_id) {
            return Err(CniError::new(
                Code::InvalidEnv,
                "invalid characters in CNI_CONTAINERID",
                env.container_id,
            ));
        }
        if env.ifname.is_empty() {
            return Err(missing("CNI_IFNAME"));
        }
        if env.ifname.parse::<IfName>().is_err() {
            return Err(CniError::new(
                Code::InvalidEnv,
                "invalid CNI_IFNAME",
                env.ifname,
            ));
        }
    }
    if matches!(command, Command::Add | Command::Check) && env.netns.is_empty() {
        return Err(missing("CNI_NETNS"));
    }
    Ok(env)
}

/// The container ID rule of libcni: alphanumeric first, then alphanumerics, `_`, `.`, `-`.
pub fn valid_container_id(id: &str) -> bool {
    let mut chars = id.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}
