//! How the adapter runs external programs (`iptables-save`, `iptables-restore`, `ipset`): a small
//! trait with a system implementation, one that runs everything inside a named network
//! namespace, and a recording one for tests. This module does process I/O.

use std::io::{self, Write as _};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, PoisonError};

use crate::error::FirewallError;

/// One program invocation.
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    /// Program name, looked up in `PATH`.
    pub program: &'a str,
    /// Its arguments.
    pub args: &'a [&'a str],
    /// Text written to its stdin, if any.
    pub stdin: Option<&'a str>,
}

impl Invocation<'_> {
    /// `program arg…`, for messages.
    #[must_use]
    pub fn command_line(&self) -> String {
        std::iter::once(self.program)
            .chain(self.args.iter().copied())
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether this invocation changes kernel state (a restore batch).
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        self.program.ends_with("-restore")
            || (self.program == "nft" && self.args.iter().any(|a| *a == "-f" || *a == "delete"))
            || (self.program == "ipset"
                && self
                    .args
                    .first()
                    .is_some_and(|a| *a != "list" && *a != "save"))
    }
}

/// What a finished program left behind.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawOutput {
    /// Whether it exited with status 0.
    pub success: bool,
    /// Exit status as text (`exit status: 1`, `signal: 9`).
    pub status: String,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl RawOutput {
    /// A successful run that printed `stdout`.
    #[must_use]
    pub fn ok(stdout: impl Into<String>) -> Self {
        Self {
            success: true,
            status: "exit status: 0".to_owned(),
            stdout: stdout.into(),
            stderr: String::new(),
        }
    }
}

/// Runs programs. Every command of the adapter goes through one of these.
pub trait CommandRunner: Send + Sync {
    /// Runs one program to completion. `Err` only when it could not be started.
    ///
    /// # Errors
    /// The program could not be spawned or its pipes failed.
    fn run(&self, inv: &Invocation<'_>) -> io::Result<RawOutput>;

    /// Why IPv6 firewalling is unavailable where this runner runs commands (`None`: available).
    fn ipv6_unavailable(&self) -> Option<String> {
        probe_ipv6(self)
    }
}

/// Runs a program, mapping a failure to start to [`FirewallError::Spawn`].
pub(crate) fn run_raw<R: CommandRunner + ?Sized>(
    runner: &R,
    context: &str,
    inv: &Invocation<'_>,
) -> Result<RawOutput, FirewallError> {
    runner.run(inv).map_err(|source| FirewallError::Spawn {
        context: context.to_owned(),
        program: inv.program.to_owned(),
        source,
    })
}

/// Runs a program that must succeed and returns its stdout; a failure carries its stderr.
pub(crate) fn run_checked<R: CommandRunner + ?Sized>(
    runner: &R,
    context: &str,
    inv: &Invocation<'_>,
) -> Result<String, FirewallError> {
    let out = run_raw(runner, context, inv)?;
    if !out.success {
        return Err(failed(context, inv, &out));
    }
    Ok(out.stdout)
}

/// The error of a program that ran and failed.
pub(crate) fn failed(context: &str, inv: &Invocation<'_>, out: &RawOutput) -> FirewallError {
    FirewallError::Command {
        context: context.to_owned(),
        command: inv.command_line(),
        status: out.status.clone(),
        stderr: out.stderr.trim().to_owned(),
    }
}

/// Probes IPv6 through a runner: `ip6tables-restore` present and `disable_ipv6` not set.
pub fn probe_ipv6<R: CommandRunner + ?Sized>(runner: &R) -> Option<String> {
    let version = Invocation {
        program: "ip6tables-restore",
        args: &["--version"],
        stdin: None,
    };
    match runner.run(&version) {
        Ok(out) if out.success => {}
        Ok(out) => {
            return Some(format!(
                "ip6tables-restore --version failed: {}",
                out.stderr.trim()
            ));
        }
        Err(e) => return Some(format!("ip6tables-restore is not available: {e}")),
    }
    probe_ipv6_kernel(runner)
}

/// Probes whether the kernel has IPv6 enabled (`disable_ipv6` not set), through a runner.
pub fn probe_ipv6_kernel<R: CommandRunner + ?Sized>(runner: &R) -> Option<String> {
    let sysctl = Invocation {
        program: "cat",
        args: &["/proc/sys/net/ipv6/conf/all/disable_ipv6"],
        stdin: None,
    };
    match runner.run(&sysctl) {
        Ok(out) if out.success && out.stdout.trim() == "1" => {
            Some("net.ipv6.conf.all.disable_ipv6 is 1".to_owned())
        }
        Ok(out) if out.success => None,
        _ => Some("/proc/sys/net/ipv6 is missing: IPv6 is disabled in the kernel".to_owned()),
    }
}

/// Runs programs directly on the host.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemRunner;

impl CommandRunner for SystemRunner {
    fn run(&self, inv: &Invocation<'_>) -> io::Result<RawOutput> {
        let mut child = Command::new(inv.program)
            .args(inv.args)
            .stdin(if inv.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdin = child.stdin.take();
        let out = std::thread::scope(|s| {
            let writer = s.spawn(move || match (stdin, inv.stdin) {
                (Some(mut pipe), Some(text)) => pipe.write_all(text.as_bytes()),
                _ => Ok(()),
            });
            let out = child.wait_with_output();
            let written = writer
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("stdin writer panicked")));
            (out, written)
        });
        let (out, written) = out;
        let out = out?;
        // A broken pipe means the program exited early; its status and stderr say why.
        if let Err(e) = written
            && e.kind() != io::ErrorKind::BrokenPipe
        {
            return Err(e);
        }
        Ok(RawOutput {
            success: out.status.success(),
            status: out.status.to_string(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    fn ipv6_unavailable(&self) -> Option<String> {
        if which("ip6tables-restore").is_none() || which("ip6tables-save").is_none() {
            return Some("ip6tables-restore or ip6tables-save is not installed".to_owned());
        }
        match std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6") {
            Ok(v) if v.trim() == "1" => Some("net.ipv6.conf.all.disable_ipv6 is 1".to_owned()),
            Ok(_) => None,
            Err(_) => {
                Some("/proc/sys/net/ipv6 is missing: IPv6 is disabled in the kernel".to_owned())
            }
        }
    }
}

/// The full path of a program found in `PATH`.
#[must_use]
pub fn which(program: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
}

/// Runs every program inside a named network namespace (`ip netns exec <ns> …`).
#[derive(Clone, Debug)]
pub struct NetnsRunner {
    ns: String,
}

impl NetnsRunner {
    /// A runner for the namespace `ns` (as listed by `ip netns`).
    #[must_use]
    pub fn new(ns: impl Into<String>) -> Self {
        Self { ns: ns.into() }
    }
}

impl CommandRunner for NetnsRunner {
    fn run(&self, inv: &Invocation<'_>) -> io::Result<RawOutput> {
        let mut args = vec!["netns", "exec", self.ns.as_str(), inv.program];
        args.extend_from_slice(inv.args);
        SystemRunner.run(&Invocation {
            program: "ip",
            args: &args,
            stdin: inv.stdin,
        })
    }
}

/// One recorded invocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recorded {
    /// Program.
    pub program: String,
    /// Arguments.
    pub args: Vec<String>,
    /// Stdin (the batch), if any.
    pub stdin: Option<String>,
}

impl Recorded {
    /// Whether it changed kernel state (see [`Invocation::is_mutating`]).
    #[must_use]
    pub fn is_mutating(&self) -> bool {
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        Invocation {
            program: &self.program,
            args: &args,
            stdin: None,
        }
        .is_mutating()
    }
}

type Responder = dyn Fn(&Invocation<'_>) -> io::Result<RawOutput> + Send + Sync;

/// A runner that records every invocation and answers through a closure (canned output, or a
/// real runner it wraps). Clones share the record.
#[derive(Clone)]
pub struct RecordingRunner {
    responder: Arc<Responder>,
    calls: Arc<Mutex<Vec<Recorded>>>,
}

impl std::fmt::Debug for RecordingRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingRunner")
            .field("calls", &self.calls())
            .finish()
    }
}

impl RecordingRunner {
    /// Records and answers with `responder`.
    pub fn new(
        responder: impl Fn(&Invocation<'_>) -> io::Result<RawOutput> + Send + Sync + 'static,
    ) -> Self {
        Self {
            responder: Arc::new(responder),
            calls: Arc::default(),
        }
    }

    /// Records and forwards to `inner`.
    pub fn wrapping<R: CommandRunner + 'static>(inner: R) -> Self {
        Self::new(move |inv| inner.run(inv))
    }

    /// Everything run so far.
    #[must_use]
    pub fn calls(&self) -> Vec<Recorded> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Forgets the record.
    pub fn clear(&self) {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl CommandRunner for RecordingRunner {
    fn run(&self, inv: &Invocation<'_>) -> io::Result<RawOutput> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Recorded {
                program: inv.program.to_owned(),
                args: inv.args.iter().map(|a| (*a).to_owned()).collect(),
                stdin: inv.stdin.map(str::to_owned),
            });
        (self.responder)(inv)
    }
}
