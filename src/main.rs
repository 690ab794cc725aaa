//! The `chokepoint` binary: all the work is in the library and in `cli`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::run()
}
