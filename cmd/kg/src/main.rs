//! kg: placeholder until the daemon lands.
fn main() {}
