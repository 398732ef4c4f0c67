#!/usr/bin/env bash
# Builds the container image the DaemonSets run: statically linked release
# binaries (gnu target, crt-static) staged into a directory with the
# Containerfile, then `docker build` (needs a running dockerd). Prints the image
# reference as its last line.
#
#   scripts/image.sh                                  # ghcr.io/multus-rs/multus-rs:<version>
#   IMAGE=registry.example.com/net/multus-rs scripts/image.sh
set -euo pipefail
cd "$(dirname "$0")/.."

repo="${IMAGE:-ghcr.io/multus-rs/multus-rs}"
version="$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)"
ref="$repo:$version"
target=x86_64-unknown-linux-gnu
target_dir="${CARGO_TARGET_DIR:-target}"

# A static binary needs no libc in the image; --target keeps the flag away from
# build scripts and proc macros, which must stay dynamic.
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
    cargo build --release --locked --target "$target" \
    -p multus-cli -p multus-shim --bins >&2

stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
for bin in multus multus-shim multus-daemon install_multus passthru thin_entrypoint; do
    cp "$target_dir/$target/release/$bin" "$stage/$bin"
done
cp Containerfile "$stage/Containerfile"
docker build --quiet --tag "$ref" --file "$stage/Containerfile" "$stage" >&2
echo "$ref"
