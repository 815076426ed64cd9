//! Builds libzmq (vendored by `zeromq-src`, compiled with `cc`, no cmake) with CURVE enabled,
//! linked against the libsodium that `libsodium-sys-stable` has just built. See README "Design notes".
// Build scripts hand flags to `cc` through the environment; the ban on set_var is for tests.
#[allow(clippy::disallowed_methods)]
fn main() {
    let (Ok(lib), Ok(include)) = (
        std::env::var("DEP_SODIUM_LIB"),
        std::env::var("DEP_SODIUM_INCLUDE"),
    ) else {
        panic!("libsodium-sys-stable did not report its lib/include directories (DEP_SODIUM_LIB/INCLUDE)");
    };
    // libzmq's own sources warn a lot under -Wextra; those warnings are not ours to fix.
    std::env::set_var("CXXFLAGS", "-w");
    std::env::set_var("CFLAGS", "-w");
    zeromq_src::Build::new()
        .with_libsodium(Some(zeromq_src::LibLocation::new(lib, include)))
        .build();
}
