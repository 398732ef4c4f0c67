//! `thin_entrypoint`: the container entrypoint of the thin-plugin DaemonSet
//! (see `multus_cli::entrypoint` and ENTRYPOINT.md).

fn main() {
    std::process::exit(multus_cli::entrypoint::main_with_args(std::env::args_os()));
}
