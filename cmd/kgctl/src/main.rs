//! kgctl: the kilo-rs operator CLI. `plan` computes what kg would program on a node from Node and
//! Peer manifests or the API server; `status` shows the mesh (and the egress address in force per node)
//! from the API server or from manifests; `showconf` prints WireGuard configuration for a leader
//! node, a segment as a peer, or a Peer; `check` reports what is wrong with the mesh;
//! `connect` joins this host to the mesh as a Peer.

mod check;
mod connect;
mod graph;
mod health;
mod hoist;
mod manifests;
mod output;
mod plan;
mod probe;
mod showconf;
mod source;
mod status;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand, ValueEnum};

use crate::source::ApiArgs;

/// kilo-rs operator CLI.
#[derive(Parser)]
#[command(name = "kgctl", version = env!("KILO_VERSION"), about)]
struct Cli {
    /// How to reach the API server: before or after the subcommand, as with kubectl.
    #[command(flatten)]
    api: ApiArgs,
    #[command(subcommand)]
    command: Command,
}

/// Shells `kgctl completion` writes a script for.
#[derive(Clone, Copy, ValueEnum)]
enum Shell {
    /// bash (`source <(kgctl completion bash)`).
    Bash,
    /// zsh (`kgctl completion zsh > "${fpath[1]}/_kgctl"`).
    Zsh,
    /// fish (`kgctl completion fish > ~/.config/fish/completions/kgctl.fish`).
    Fish,
}

#[derive(Subcommand)]
enum Command {
    /// Print what kg would program on one node, from Node and Peer manifests (-f) or the API server.
    Plan(plan::PlanArgs),
    /// Print the mesh topology as Graphviz DOT, from manifests (-f) or the API server.
    Graph(graph::GraphArgs),
    /// Show every node's role, readiness and egress source address, from the API server or `-f`.
    Status(status::StatusArgs),
    /// Print WireGuard configuration: a leader node's device, a segment as a peer, or a Peer's.
    Showconf(showconf::ShowconfArgs),
    /// Report what is wrong with the mesh (exit status 1 on errors); --probe also asks every kg.
    Check(check::CheckArgs),
    /// Join this host to the mesh as a Peer (creating it if needed) until SIGINT/SIGTERM.
    Connect(connect::ConnectArgs),
    /// Print the Peer CustomResourceDefinition (the source of manifests/crds.yaml).
    Crd,
    /// Print a shell completion script.
    Completion {
        /// The shell.
        #[arg(value_enum)]
        shell: Shell,
    },
    /// Print kgctl's version.
    Version,
}

impl Command {
    /// Hands the global API server flags to the subcommand that reads the cluster.
    fn set_api(&mut self, api: &ApiArgs) {
        match self {
            Self::Plan(a) => a.api = api.clone(),
            Self::Graph(a) => a.source.api = api.clone(),
            Self::Status(a) => a.source.api = api.clone(),
            Self::Showconf(a) => a.set_api(api),
            Self::Check(a) => a.set_api(api),
            Self::Connect(a) => a.source.api = api.clone(),
            Self::Crd | Self::Completion { .. } | Self::Version => {}
        }
    }
}

fn completion(shell: Shell) -> String {
    let mut out = Vec::new();
    let mut cmd = Cli::command();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    clap_complete::generate(shell, &mut cmd, "kgctl", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn crd() -> anyhow::Result<String> {
    Ok(serde_saphyr::to_string(&kilo_k8s::peer::peer_crd())?)
}

/// Whether subcommand `sub` has the long flag `--flag`.
fn subcommand_takes(sub: &str, flag: &str) -> bool {
    Cli::command()
        .find_subcommand(sub)
        .is_some_and(|c| c.get_arguments().any(|a| a.get_long() == Some(flag)))
}

fn main() -> ExitCode {
    let args = hoist::hoist(std::env::args_os().collect(), subcommand_takes);
    let mut cli = Cli::parse_from(args);
    cli.command.set_api(&cli.api);
    let with_success = |r: anyhow::Result<String>| r.map(|out| (out, true));
    let result = match cli.command {
        Command::Plan(args) => with_success(plan::run(&args)),
        Command::Graph(args) => with_success(graph::run(&args)),
        Command::Status(args) => with_success(status::run(&args)),
        Command::Showconf(args) => with_success(showconf::run(&args)),
        Command::Check(args) => check::run(&args),
        Command::Connect(args) => with_success(connect::run(&args)),
        Command::Crd => with_success(crd()),
        Command::Completion { shell } => with_success(Ok(completion(shell))),
        Command::Version => with_success(Ok(format!("{}\n", env!("KILO_VERSION")))),
    };
    match result {
        Ok((out, success)) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.as_bytes()).is_err() || !success {
                return ExitCode::FAILURE;
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kgctl: {e:#}");
            ExitCode::FAILURE
        }
    }
}
