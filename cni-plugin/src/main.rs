//! kilo-cni: the CNI plugin of kilo-rs (bridge + veth + host-local compatible IPAM).
//! Reads the CNI environment and stdin, prints exactly one result or error JSON on stdout.

mod commands;
mod config;
mod env;
mod error;
mod ipam;
mod netlink;
mod netns;
mod result;

use std::io::{Read, Write};
use std::process::ExitCode;

use config::{NetConf, SUPPORTED_VERSIONS, peek_version};
use env::Command;
use error::{CniError, CniResult, Code};
use serde_json::Value;

fn read_stdin() -> CniResult<Vec<u8>> {
    let mut raw = Vec::new();
    std::io::stdin()
        .read_to_end(&mut raw)
        .map_err(|e| CniError::new(Code::Io, "reading network config from stdin", e.to_string()))?;
    Ok(raw)
}

fn dispatch(raw: &[u8]) -> CniResult<Option<Value>> {
    let command = env::command()?;
    if command == Command::Version {
        return Ok(Some(commands::version::run(raw)));
    }
    let env = env::read(command)?;
    let conf = NetConf::parse(raw)?;
    match command {
        Command::Add => commands::add::run(&env, &conf, raw).map(Some),
        Command::Del => commands::del::run(&env, &conf, raw).map(|()| None),
        Command::Check => commands::check::run(&env, &conf, raw).map(|()| None),
        Command::Gc => commands::gc::run(&env, &conf, raw).map(|()| None),
        Command::Status => commands::status::run(&env, &conf, raw).map(|()| None),
        Command::Version => Ok(Some(commands::version::run(raw))),
    }
}

fn main() -> ExitCode {
    // Not a CNI invocation (those pass everything through the environment and stdin): a person
    // asking which build is installed.
    if std::env::args_os().nth(1).is_some_and(|a| a == "--version") {
        let _ = writeln!(std::io::stdout(), "kilo-cni {}", env!("KILO_VERSION"));
        return ExitCode::SUCCESS;
    }
    let (raw, outcome) = match read_stdin() {
        Ok(raw) => {
            let outcome = dispatch(&raw);
            (raw, outcome)
        }
        Err(e) => (Vec::new(), Err(e)),
    };
    let mut stdout = std::io::stdout().lock();
    match outcome {
        Ok(Some(v)) => {
            let _ = writeln!(stdout, "{v}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            let version = peek_version(&raw)
                .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
                .unwrap_or_else(|| "1.1.0".to_owned());
            eprintln!("kilo-cni: {e}");
            let _ = writeln!(stdout, "{}", e.to_json(&version));
            ExitCode::FAILURE
        }
    }
}
