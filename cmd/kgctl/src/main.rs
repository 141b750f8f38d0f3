//! kgctl: the kilo-rs operator CLI. `plan` computes what kg would program on a node from Node and
//! Peer manifests or the API server; `status` shows the mesh (and the egress address in force per node)
//! from the API server or from manifests; `showconf` prints WireGuard configuration for a leader
//! node, a segment as a peer, or a Peer; `check` reports what is wrong with the mesh;
//! `connect` joins this host to the mesh as a Peer.

mod check;
mod connect;
mod health;
mod manifests;
mod plan;
mod probe;
mod showconf;
mod source;
mod status;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kilo-rs operator CLI.
#[derive(Parser)]
#[command(name = "kgctl", version = env!("KILO_VERSION"), about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what kg would program on one node, from Node and Peer manifests (-f) or the API server.
    Plan(plan::PlanArgs),
    /// Print the mesh topology as Graphviz DOT, from manifests (-f) or the API server.
    Graph(plan::PlanArgs),
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
}

fn crd() -> anyhow::Result<String> {
    Ok(serde_saphyr::to_string(&kilo_k8s::peer::peer_crd())?)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let with_success = |r: anyhow::Result<String>| r.map(|out| (out, true));
    let result = match cli.command {
        Command::Plan(args) => with_success(plan::run(&args)),
        Command::Graph(args) => with_success(plan::graph(&args)),
        Command::Status(args) => with_success(status::run(&args)),
        Command::Showconf(args) => with_success(showconf::run(&args)),
        Command::Check(args) => check::run(&args),
        Command::Connect(args) => with_success(connect::run(&args)),
        Command::Crd => with_success(crd()),
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
