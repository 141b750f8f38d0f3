//! The standard Prometheus process metrics (`process_cpu_seconds_total`,
//! `process_resident_memory_bytes`, `process_virtual_memory_bytes`, `process_open_fds`,
//! `process_max_fds`, `process_start_time_seconds`), as Go clients export them, read from
//! `/proc/self` at every scrape. The parsers are pure; [`ProcessCollector`] does the I/O.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric as _};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;

/// What `/proc/self/stat` says, in the file's units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Stat {
    /// User CPU time, in clock ticks.
    pub utime: u64,
    /// System CPU time, in clock ticks.
    pub stime: u64,
    /// Start time after boot, in clock ticks.
    pub starttime: u64,
    /// Virtual memory size, in bytes.
    pub vsize: u64,
    /// Resident set size, in pages.
    pub rss_pages: u64,
}

/// Parses `/proc/self/stat`. The command name (field 2) may hold spaces and parentheses, so the
/// fields are counted from its last `)`.
pub fn parse_stat(text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    // rest starts at field 3 (state): field n is rest[n - 3]
    let f: Vec<&str> = rest.split_whitespace().collect();
    let field = |n: usize| f.get(n - 3)?.parse::<u64>().ok();
    Some(Stat {
        utime: field(14)?,
        stime: field(15)?,
        starttime: field(22)?,
        vsize: field(23)?,
        rss_pages: field(24)?,
    })
}

/// The boot time (`btime`, unix seconds) from `/proc/stat`.
pub fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// The soft limit of open files from `/proc/self/limits` (`None` when unlimited or absent).
pub fn parse_max_fds(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The process metrics at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Sample {
    /// User and system CPU seconds.
    pub cpu_seconds: f64,
    /// Resident memory in bytes.
    pub resident_bytes: u64,
    /// Virtual memory in bytes.
    pub virtual_bytes: u64,
    /// Open file descriptors.
    pub open_fds: Option<u64>,
    /// The open files limit.
    pub max_fds: Option<u64>,
    /// Start time, unix seconds.
    pub start_time_seconds: Option<f64>,
}

/// Turns the parsed files into metric values (`ticks` clock ticks a second, `page` bytes a page).
#[allow(
    clippy::cast_precision_loss,
    reason = "CPU ticks and seconds fit f64 for centuries"
)]
pub fn sample(stat: &Stat, btime: Option<u64>, ticks: u64, page: u64) -> Sample {
    let ticks = ticks.max(1) as f64;
    Sample {
        cpu_seconds: (stat.utime + stat.stime) as f64 / ticks,
        resident_bytes: stat.rss_pages.saturating_mul(page),
        virtual_bytes: stat.vsize,
        open_fds: None,
        max_fds: None,
        start_time_seconds: btime.map(|b| b as f64 + stat.starttime as f64 / ticks),
    }
}

fn read_sample() -> Option<Sample> {
    use nix::unistd::{SysconfVar, sysconf};
    let stat = parse_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let btime = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|t| parse_btime(&t));
    let ticks = sysconf(SysconfVar::CLK_TCK).ok().flatten().unwrap_or(100);
    let page = sysconf(SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .unwrap_or(4096);
    let mut s = sample(
        &stat,
        btime,
        u64::try_from(ticks).unwrap_or(100),
        u64::try_from(page).unwrap_or(4096),
    );
    s.open_fds = std::fs::read_dir("/proc/self/fd")
        .ok()
        .map(|d| u64::try_from(d.count()).unwrap_or(u64::MAX));
    s.max_fds = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|t| parse_max_fds(&t));
    Some(s)
}

/// Reads `/proc/self` whenever the registry is encoded.
#[derive(Debug)]
pub struct ProcessCollector;

fn gauge(
    encoder: &mut DescriptorEncoder<'_>,
    name: &str,
    help: &str,
    value: f64,
) -> std::fmt::Result {
    let g = ConstGauge::new(value);
    g.encode(encoder.encode_descriptor(name, help, None, g.metric_type())?)
}

#[allow(
    clippy::cast_precision_loss,
    reason = "byte and fd counts fit f64 exactly below 2^53"
)]
fn encode_sample(s: &Sample, mut encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
    let cpu = ConstCounter::new(s.cpu_seconds);
    let help = "Total user and system CPU time spent in seconds.";
    cpu.encode(encoder.encode_descriptor("process_cpu_seconds", help, None, cpu.metric_type())?)?;
    let help = "Resident memory size in bytes.";
    gauge(
        &mut encoder,
        "process_resident_memory_bytes",
        help,
        s.resident_bytes as f64,
    )?;
    let help = "Virtual memory size in bytes.";
    gauge(
        &mut encoder,
        "process_virtual_memory_bytes",
        help,
        s.virtual_bytes as f64,
    )?;
    if let Some(n) = s.open_fds {
        gauge(
            &mut encoder,
            "process_open_fds",
            "Number of open file descriptors.",
            n as f64,
        )?;
    }
    if let Some(n) = s.max_fds {
        let help = "Maximum number of open file descriptors.";
        gauge(&mut encoder, "process_max_fds", help, n as f64)?;
    }
    if let Some(t) = s.start_time_seconds {
        let help = "Start time of the process since unix epoch in seconds.";
        gauge(&mut encoder, "process_start_time_seconds", help, t)?;
    }
    Ok(())
}

impl Collector for ProcessCollector {
    fn encode(&self, encoder: DescriptorEncoder<'_>) -> std::fmt::Result {
        match read_sample() {
            Some(s) => encode_sample(&s, encoder),
            None => Ok(()),
        }
    }
}

/// Registers the process metrics.
pub fn register(registry: &mut Registry) {
    registry.register_collector(Box::new(ProcessCollector));
}

#[cfg(test)]
#[path = "process_metrics_tests.rs"]
mod tests;
