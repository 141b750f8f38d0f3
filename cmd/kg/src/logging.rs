//! kg's log output: `--log-level` and `--log-format` (`text` or `json`, one object a line) on
//! stderr; `KILO_LOG` (an `EnvFilter` directive) overrides the level. Does I/O (stderr).

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

use crate::flags::{LogFormat, LogLevel};

/// The `EnvFilter` directive of a `--log-level`.
pub const fn directive(level: LogLevel) -> &'static str {
    match level {
        LogLevel::All => "trace",
        LogLevel::Debug => "debug",
        LogLevel::Info => "info",
        LogLevel::Warn => "warn",
        LogLevel::Error => "error",
        LogLevel::None => "off",
    }
}

/// A subscriber writing to `writer` in `format`, filtered by `filter`.
pub fn subscriber<W>(
    filter: EnvFilter,
    format: LogFormat,
    writer: W,
    ansi: bool,
) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Text => Box::new(builder.with_ansi(ansi).finish()),
        LogFormat::Json => Box::new(builder.json().with_ansi(false).finish()),
    }
}

/// Installs kg's global subscriber on stderr.
pub fn init(level: LogLevel, format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("KILO_LOG").unwrap_or_else(|_| EnvFilter::new(directive(level)));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let sub = subscriber(filter, format, std::io::stderr, ansi);
    // Fails only when a subscriber is already installed, which kg never does twice.
    let _ = tracing::subscriber::set_global_default(sub);
}

#[cfg(test)]
#[path = "logging_tests.rs"]
mod tests;
