#!/usr/bin/env bash
# Runs every test of the workspace. The privileged tests (real network
# namespaces, real delegate plugins) need root and Debian's
# containernetworking-plugins; they fail rather than skip without them.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/lib/cni/bridge ] || ! command -v ip >/dev/null; then
    echo "installing containernetworking-plugins and iproute2 (needs root)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins iproute2 >/dev/null
fi

exec cargo test --workspace --locked
