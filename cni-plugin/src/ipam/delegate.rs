//! Delegation to an external IPAM plugin found in `CNI_PATH`, per the spec: same stdin,
//! same environment except `CNI_COMMAND`. Spawns a process.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::error::{CniError, CniResult, Code};

/// Finds `plugin` in the colon-separated `cni_path`.
pub fn find(plugin: &str, cni_path: &str) -> CniResult<PathBuf> {
    if plugin.contains('/') {
        return Err(CniError::new(
            Code::InvalidConfig,
            format!("invalid ipam type {plugin:?}"),
            "",
        ));
    }
    cni_path
        .split(':')
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(plugin))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            CniError::new(
                Code::InvalidConfig,
                format!("failed to find plugin {plugin:?} in path"),
                cni_path.to_owned(),
            )
        })
}

/// Runs the delegate with `command` and the original config; returns its parsed stdout
/// (`Value::Null` when empty), or its own error.
pub fn exec(plugin: &str, cni_path: &str, command: &str, stdin: &[u8]) -> CniResult<Value> {
    let path = find(plugin, cni_path)?;
    let spawn_err = |e: std::io::Error| {
        CniError::new(
            Code::Io,
            format!("running ipam plugin {}", path.display()),
            e.to_string(),
        )
    };
    let mut child = Command::new(&path)
        .env("CNI_COMMAND", command)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(spawn_err)?;
    if let Some(mut input) = child.stdin.take() {
        input.write_all(stdin).map_err(spawn_err)?;
    }
    let out = child.wait_with_output().map_err(spawn_err)?;
    let parsed: Value = if out.stdout.iter().all(u8::is_ascii_whitespace) {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout).map_err(|e| {
            CniError::new(
                Code::Decode,
                format!("decoding output of ipam plugin {plugin}"),
                e.to_string(),
            )
        })?
    };
    if out.status.success() {
        return Ok(parsed);
    }
    let code = parsed
        .get("code")
        .and_then(Value::as_u64)
        .and_then(|c| u32::try_from(c).ok());
    let msg = parsed
        .get("msg")
        .and_then(Value::as_str)
        .unwrap_or("ipam plugin failed");
    let details = parsed.get("details").and_then(Value::as_str).unwrap_or("");
    Err(CniError {
        code: code.unwrap_or(Code::Delegate as u32),
        msg: format!("ipam plugin {plugin}: {msg}"),
        details: details.to_owned(),
    })
}
