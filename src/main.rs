fn main() -> std::process::ExitCode {
    clauster::cli::main()
}
