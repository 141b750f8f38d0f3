//! Unit tests of `logging`: what a line looks like in each `--log-format`.

use super::*;

use std::sync::{Arc, Mutex};

/// A writer collecting everything written into one buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for Buffer {
    type Writer = Self;
    fn make_writer(&'w self) -> Self {
        self.clone()
    }
}

fn log_with(format: LogFormat, level: LogLevel) -> String {
    let buf = Buffer::default();
    let sub = subscriber(EnvFilter::new(directive(level)), format, buf.clone(), false);
    tracing::subscriber::with_default(sub, || {
        tracing::debug!(node = "n1", "hidden at info");
        tracing::warn!(
            node = "n1",
            error = "boom \"quoted\"",
            "applying the plan failed"
        );
    });
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn json_is_one_object_a_line_with_the_fields() {
    let out = log_with(LogFormat::Json, LogLevel::Info);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let v: serde_json::Value = serde_json::from_str(lines[0]).unwrap();
    assert_eq!(v["level"], "WARN");
    assert_eq!(v["fields"]["message"], "applying the plan failed");
    assert_eq!(v["fields"]["node"], "n1");
    assert_eq!(v["fields"]["error"], "boom \"quoted\"");
    assert_eq!(v["target"], "kg::logging::tests");
    assert!(v["timestamp"].is_string(), "{v}");
}

#[test]
fn text_is_a_plain_line() {
    let out = log_with(LogFormat::Text, LogLevel::Debug);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[1].ends_with(
            " WARN kg::logging::tests: applying the plan failed node=\"n1\" error=\"boom \\\"quoted\\\"\""
        ),
        "{}",
        lines[1]
    );
    assert!(!out.contains('\u{1b}'), "no colour codes: {out}");
}

#[test]
fn none_logs_nothing() {
    assert_eq!(log_with(LogFormat::Json, LogLevel::None), "");
}
