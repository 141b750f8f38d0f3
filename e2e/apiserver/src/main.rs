//! kilo-test-apiserver: placeholder.
fn main() {}
