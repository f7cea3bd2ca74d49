//! The tenantctl binary: parse arguments, pick a face, map errors to exit codes.

fn main() -> std::process::ExitCode {
    tenantctl::cli::main()
}
