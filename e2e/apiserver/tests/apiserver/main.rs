//! End-to-end tests of kilo-test-apiserver: the real kubectl and kube-rs against the binary.

#[cfg(test)]
mod common;
#[cfg(test)]
mod crds;
#[cfg(test)]
mod kube_rs;
#[cfg(test)]
mod kubectl;
#[cfg(test)]
mod persist;
#[cfg(test)]
mod rbac;
