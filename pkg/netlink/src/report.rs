//! What an apply or clean-up changed, for logs and tests. No I/O.

use std::fmt;

/// The kind of object a change touched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Object {
    /// A network device.
    Link,
    /// An address on a link.
    Address,
    /// A route.
    Route,
    /// A policy rule.
    Rule,
    /// A VXLAN forwarding-database entry.
    Fdb,
}

/// What was done to it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Op {
    /// Created.
    Add,
    /// Replaced in place (same destination, other attributes).
    Replace,
    /// Changed a property (MTU, up/down).
    Set,
    /// Removed.
    Delete,
}

/// One change made to the kernel.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// What was done.
    pub op: Op,
    /// To what kind of object.
    pub object: Object,
    /// The object, rendered like `ip` prints it.
    pub what: String,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = match self.op {
            Op::Add => "add",
            Op::Replace => "replace",
            Op::Set => "set",
            Op::Delete => "delete",
        };
        let object = match self.object {
            Object::Link => "link",
            Object::Address => "address",
            Object::Route => "route",
            Object::Rule => "rule",
            Object::Fdb => "fdb",
        };
        write!(f, "{op} {object} {}", self.what)
    }
}

/// The changes one apply or clean-up made, in the order made. Empty when the kernel already
/// matched the plan.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// The changes.
    pub changes: Vec<Change>,
}

impl ApplyReport {
    /// Whether nothing was changed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Records a change.
    pub fn push(&mut self, op: Op, object: Object, what: impl fmt::Display) {
        self.changes.push(Change {
            op,
            object,
            what: what.to_string(),
        });
    }

    /// The changes rendered one per line (`add route 10.42.1.0/24 dev kilo0`), for assertions.
    #[must_use]
    pub fn lines(&self) -> Vec<String> {
        self.changes.iter().map(ToString::to_string).collect()
    }
}
