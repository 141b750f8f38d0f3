//! `kgctl check`: the mesh's problems, from the state the nodes published (always) and, with
//! `--probe`, from every node's kg over HTTP (see [`crate::probe`]). Errors make the exit status 1.

use std::fmt::Write as _;

use anyhow::Result;
use clap::Args;
use kilo_mesh::views::check::{Finding, Severity, check};
use serde_json::json;

use crate::manifests::{NodeProblem, Rejected};
use crate::plan::Output;
use crate::source::SourceArgs;

/// Arguments of `kgctl check`.
#[derive(Args)]
pub struct CheckArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// Also ask every node's kg (at its private IP): `/readyz`, on leaders the WireGuard peers
    /// and handshakes in `/metrics`, and everywhere `/mesh-health` (the paths kg probes to every
    /// other node; a broken one is an error naming the pair, the path and the direction).
    #[arg(long)]
    probe: bool,
    /// kg's HTTP port (its `--listen`).
    #[arg(long, default_value_t = 1107)]
    metrics_port: u16,
    /// Seconds to wait for each node's kg.
    #[arg(long, default_value_t = 3)]
    timeout: u64,
    /// Report handshakes older than this many seconds (WireGuard rekeys every 120 s when there
    /// is traffic; an idle tunnel without keepalive has none).
    #[arg(long, default_value_t = 180)]
    handshake_age: i64,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    output: Output,
}

impl CheckArgs {
    /// Sets the global API server flags.
    pub fn set_api(&mut self, api: &crate::source::ApiArgs) {
        self.source.api = api.clone();
    }

    /// How `--probe` reaches kg.
    pub fn probe_settings(&self) -> crate::probe::ProbeSettings {
        crate::probe::ProbeSettings {
            port: self.metrics_port,
            timeout: std::time::Duration::from_secs(self.timeout),
            max_handshake_age: self.handshake_age,
        }
    }
}

/// Runs `kgctl check`: what to print, and whether the mesh is free of errors.
pub fn run(a: &CheckArgs) -> Result<(String, bool)> {
    let c = a.source.load()?;
    let mut findings = check(&c.snapshot, c.granularity, c.subnet);
    findings.extend(input_findings(&c.problems, &c.rejected));
    if a.probe {
        findings.extend(crate::probe::probe(&c, &a.probe_settings())?);
        let timeout = std::time::Duration::from_secs(a.timeout);
        findings.extend(crate::health::fetch(&c, a.metrics_port, timeout)?.findings);
    }
    findings.sort();
    findings.dedup();
    let healthy = !findings.iter().any(|f| f.severity == Severity::Error);
    let out = match a.output {
        Output::Text => text(&findings, c.snapshot.nodes.len()),
        Output::Json | Output::Yaml => crate::output::document(
            &json!({
                "apiVersion": "kgctl.kilo.squat.ai/v1alpha1",
                "kind": "MeshCheck",
                "healthy": healthy,
                "findings": findings,
            }),
            a.output == Output::Yaml,
        )?,
    };
    Ok((out, healthy))
}

/// Annotation problems and rejected Peers, as findings.
fn input_findings(problems: &[NodeProblem], rejected: &[Rejected]) -> Vec<Finding> {
    let mut out: Vec<Finding> = problems
        .iter()
        .map(|p| Finding {
            severity: match p.problem.severity {
                kilo_mesh::annotations::Severity::Error => Severity::Error,
                kilo_mesh::annotations::Severity::Warning => Severity::Warning,
            },
            subject: format!("node/{}", p.node),
            message: p.problem.to_string(),
        })
        .collect();
    out.extend(rejected.iter().map(|r| Finding {
        severity: Severity::Error,
        subject: format!("peer/{}", r.name),
        message: format!("rejected: {}", r.reason),
    }));
    out
}

fn text(findings: &[Finding], nodes: usize) -> String {
    if findings.is_empty() {
        return format!("no problems found ({nodes} nodes)\n");
    }
    let width = findings.iter().map(|f| f.subject.len()).max().unwrap_or(0);
    let mut out = String::new();
    for f in findings {
        let sev = match f.severity {
            Severity::Error => "ERROR",
            Severity::Warning => "WARNING",
        };
        let _ = writeln!(out, "{sev:<8} {:<width$}  {}", f.subject, f.message);
    }
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let _ = writeln!(out, "{errors} errors, {} warnings", findings.len() - errors);
    out
}
