//! `cargo xtask`: this repository's release Makefile, as a thin call into the library.
fn main() -> std::process::ExitCode {
    trainyard::main_with_args(std::env::args_os().skip(1).collect(), "cargo xtask")
}
