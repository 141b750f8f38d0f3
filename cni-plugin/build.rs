//! Build script: the version string with the git revision (see cmd/build_version.rs).
include!("../cmd/build_version.rs");
