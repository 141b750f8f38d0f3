//! kgctl's structured output: one document (`apiVersion: kgctl.kilo.squat.ai/v1alpha1`) printed
//! as pretty JSON or as YAML, the same fields either way. No I/O.

use anyhow::Result;
use clap::ValueEnum;
use serde_json::Value;

/// `-o` of `plan` and `check`.
#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Readable sections.
    Text,
    /// Stable JSON (docs/kgctl-plan.md).
    Json,
    /// The JSON document as YAML.
    Yaml,
}

/// Renders `doc` as pretty JSON (`yaml` false) or YAML, ending in a newline.
pub fn document(doc: &Value, yaml: bool) -> Result<String> {
    if yaml {
        return Ok(serde_saphyr::to_string(doc)?);
    }
    let mut s = serde_json::to_string_pretty(doc)?;
    s.push('\n');
    Ok(s)
}
