//! Netlink adapter tests against real network namespaces (need root and `ip`; CI runs them as
//! root). Each test creates its own namespaces, removed on drop.

#[cfg(test)]
mod apply;
#[cfg(test)]
mod common;
#[cfg(test)]
mod flannel;
#[cfg(test)]
mod onlink;
#[cfg(test)]
mod vxlan;
