//! kilo-cni: placeholder until the CNI plugin lands.
fn main() {}
