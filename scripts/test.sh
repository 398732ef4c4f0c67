#!/usr/bin/env bash
# Runs every test of the workspace. The privileged tests (real network
# namespaces, real delegate plugins) need root and Debian's
# containernetworking-plugins; they fail rather than skip without them.
# The image tests need the container image: built here with scripts/image.sh
# (Debian's docker.io; a dockerd is started for the run and stopped after it
# when none is running), unless MULTUS_SKIP_IMAGE=1.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/lib/cni/bridge ] || ! command -v ip >/dev/null; then
    echo "installing containernetworking-plugins and iproute2 (needs root)" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins iproute2 >/dev/null
fi

dockerd_pid=
stop_dockerd() {
    if [ -n "$dockerd_pid" ]; then
        kill "$dockerd_pid" 2>/dev/null || true
        wait "$dockerd_pid" 2>/dev/null || true
    fi
}
trap stop_dockerd EXIT

if [ "${MULTUS_SKIP_IMAGE:-}" != 1 ] && [ -z "${MULTUS_IMAGE:-}" ]; then
    if ! command -v dockerd >/dev/null; then
        echo "installing docker.io (needs root)" >&2
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
    fi
    if ! docker info >/dev/null 2>&1; then
        # No bridge and no iptables: the image tests run with --network none or host.
        dockerd --iptables=false --bridge=none >/tmp/multus-rs-dockerd.log 2>&1 &
        dockerd_pid=$!
        for _ in $(seq 1 60); do
            docker info >/dev/null 2>&1 && break
            sleep 0.5
        done
    fi
    MULTUS_IMAGE=$(./scripts/image.sh | tail -n 1)
    export MULTUS_IMAGE
    echo "image under test: $MULTUS_IMAGE" >&2
fi

cargo test --workspace --locked
