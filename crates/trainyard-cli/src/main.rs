//! `trainyard`: the same command line as `cargo xtask`, for users who install it.
fn main() -> std::process::ExitCode {
    trainyard::main_with_args(std::env::args_os().skip(1).collect(), "trainyard")
}
