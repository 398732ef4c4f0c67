//! Compiles `proto/api.proto` (kubelet's pod-resources v1 API) with protox,
//! a pure-Rust protobuf compiler, so no `protoc` is needed to build; the
//! server side is generated only with the `server` feature.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto = "proto/api.proto";
    println!("cargo:rerun-if-changed={proto}");
    let descriptors = protox::compile([proto], ["proto"])?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(std::env::var_os("CARGO_FEATURE_SERVER").is_some())
        .compile_fds(descriptors)?;
    Ok(())
}
