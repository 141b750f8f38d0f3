//! kgctl: the kilo-rs operator CLI. `plan` computes offline what kg would program on a node from
//! Node and Peer manifests.

mod manifests;
mod plan;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kilo-rs operator CLI.
#[derive(Parser)]
#[command(name = "kgctl", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print what kg would program on one node, from Node and Peer manifests (offline).
    Plan(plan::PlanArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Plan(args) => plan::run(&args),
    };
    match result {
        Ok(out) => {
            let mut stdout = std::io::stdout().lock();
            if stdout.write_all(out.as_bytes()).is_err() {
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
