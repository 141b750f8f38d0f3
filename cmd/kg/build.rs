//! Build script: the version string with the git revision (see cmd/build_version.rs).
include!("../build_version.rs");
