#!/usr/bin/env bash
# The main job: the user guide's pod-case-06 story through the real `multus`
# binary. A stand-in Kubernetes API server serves the guide's NADs and pod
# (examples/guide/*.yaml); the default network is bridge + host-local (the
# guide's flannel is not available here), the macvlan attachments hang off a
# veth created for the demo instead of the guide's eth1. Prints the pod
# namespace's `ip -d address` and the network-status annotation, then DELs
# and removes everything it created. Run as root.
#
# --thick: the same story through the thick plugin. A real `multus-daemon`
# (multusConfigFile: auto, its own socket directory) is started in the
# background, generates 00-multus.conf from the default network's config,
# and the runtime's calls go to the `multus-shim` with that file on stdin.
# The daemon is stopped by its PID at the end (SIGTERM: it removes
# 00-multus.conf).
#
# DEMO_CARGO_FLAGS: extra flags for the `cargo build` step (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."

mode=thin
case "${1:-}" in
    "") ;;
    --thick) mode=thick ;;
    *) echo "usage: $0 [--thick]" >&2; exit 2 ;;
esac

if [ "$(id -u)" != 0 ]; then
    echo "run as root: the demo creates a network namespace and links" >&2
    exit 1
fi
if [ ! -x /usr/lib/cni/bridge ] || ! command -v ip >/dev/null; then
    echo "== installing containernetworking-plugins and iproute2"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containernetworking-plugins iproute2 >/dev/null
fi

profile=debug
case " ${DEMO_CARGO_FLAGS:-} " in *" --release "*) profile=release ;; esac
bin=${CARGO_TARGET_DIR:-target}/$profile
if [ "$mode" = thick ]; then
    echo "== building multus-daemon, multus-shim and the stand-in API server"
    # shellcheck disable=SC2086
    # (--bin filters every selected package, so each binary is named.)
    cargo build -q --locked ${DEMO_CARGO_FLAGS:-} -p multus-cli -p multus-shim -p multus-testsupport \
        --bin multus-daemon --bin multus-shim --bin stand-in-apiserver
else
    echo "== building multus and the stand-in API server"
    # shellcheck disable=SC2086
    cargo build -q --locked ${DEMO_CARGO_FLAGS:-} -p multus-cli --bin multus \
        -p multus-testsupport --bin stand-in-apiserver
fi

tag=$(printf '%04x' $((RANDOM % 65536)))
netns=mrs-demo-$tag
master=mrsdm$tag       # stands in for the guide's eth1
bridge=mrsdb$tag       # the default network's bridge
work=$(mktemp -d /tmp/multus-demo.XXXXXX)
container=demo$tag
apiserver_pid=
daemon_pid=
added=

cleanup() {
    set +e
    if [ -n "$added" ]; then
        cni DEL >/dev/null 2>&1
    fi
    [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$apiserver_pid" ] && kill "$apiserver_pid" 2>/dev/null && wait "$apiserver_pid" 2>/dev/null
    ip netns del "$netns" 2>/dev/null
    ip link del "$master" 2>/dev/null
    ip link del "$bridge" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

# The guide's manifests, with the demo's master link and a private IPAM store.
mkdir -p "$work/manifests" "$work/net.d"
for f in nad-macvlan-conf-1.yaml nad-macvlan-conf-2.yaml pod-case-06.yaml; do
    sed -e "s/\"master\": \"eth1\"/\"master\": \"$master\"/" \
        -e "s|\"type\": \"host-local\",|\"type\": \"host-local\", \"dataDir\": \"$work/ipam\",|" \
        "examples/guide/$f" >"$work/manifests/$f"
done
# macvlan-conf-2 has no spec.config: multus finds it by name in confDir.
sed -e "s/\"master\": \"eth1\"/\"master\": \"$master\"/" \
    -e "s|\"type\": \"host-local\",|\"type\": \"host-local\", \"dataDir\": \"$work/ipam\",|" \
    examples/guide/macvlan2.conf >"$work/net.d/macvlan2.conf"

ip link add "$master" type veth peer name "${master}p"
ip link set "$master" up
ip link set "${master}p" up
ip netns add "$netns"

echo "== starting the stand-in API server with the guide's NADs and pod-case-06"
"$bin/stand-in-apiserver" --kubeconfig-out "$work/kubeconfig" --load "$work"/manifests/*.yaml >"$work/apiserver.out" 2>"$work/apiserver.err" &
apiserver_pid=$!
for _ in $(seq 100); do
    grep -q '^listening on ' "$work/apiserver.out" 2>/dev/null && break
    sleep 0.05
done
url=$(sed -n 's/^listening on //p' "$work/apiserver.out")
[ -n "$url" ] || { cat "$work/apiserver.err" >&2; exit 1; }
echo "   $url"

pod_json() {
    python3 - "$url" <<'PY'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1] + "/api/v1/namespaces/default/pods/pod-case-06") as r:
    print(json.dumps(json.load(r)))
PY
}
uid=$(pod_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["uid"])')

default_network() {
    cat <<NET
{
  "cniVersion": "0.3.1",
  "name": "default-network",
  "type": "bridge",
  "bridge": "$bridge",
  "isGateway": true,
  "ipam": {
    "type": "host-local",
    "dataDir": "$work/ipam",
    "subnet": "10.244.2.0/24",
    "routes": [ { "dst": "0.0.0.0/0" } ]
  }
}
NET
}

if [ "$mode" = thin ]; then
    plugin=multus
    conf=$work/00-multus.conf
    cat >"$conf" <<CONF
{
  "cniVersion": "0.3.1",
  "name": "multus-cni-network",
  "type": "multus",
  "kubeconfig": "$work/kubeconfig",
  "confDir": "$work/net.d",
  "cniDir": "$work/cni",
  "binDir": "/usr/lib/cni",
  "delegates": [
$(default_network | sed 's/^/    /')
  ]
}
CONF
else
    plugin=multus-shim
    # The node's CNI config dir as the daemon sees it: the default network's
    # config, next to which the daemon writes 00-multus.conf for the shim.
    mkdir -p "$work/cni-net.d"
    default_network >"$work/cni-net.d/10-default-network.conf"
    cat >"$work/daemon-config.json" <<CONF
{
  "cniVersion": "0.3.1",
  "socketDir": "$work/run",
  "daemonSocketDir": "$work/run",
  "multusConfigFile": "auto",
  "multusAutoconfigDir": "$work/cni-net.d",
  "cniConfigDir": "$work/cni-net.d",
  "kubeconfig": "$work/kubeconfig",
  "confDir": "$work/net.d",
  "cniDir": "$work/cni",
  "binDir": "/usr/lib/cni",
  "logLevel": "verbose",
  "logFile": "$work/multus-daemon.log"
}
CONF
    echo
    echo "== starting multus-daemon (multusConfigFile: auto, socket $work/run/multus.sock)"
    "$bin/multus-daemon" -config "$work/daemon-config.json" >"$work/daemon.out" 2>&1 &
    daemon_pid=$!
    conf=$work/cni-net.d/00-multus.conf
    for _ in $(seq 200); do
        [ -S "$work/run/multus.sock" ] && [ -s "$conf" ] && break
        kill -0 "$daemon_pid" 2>/dev/null || { cat "$work/daemon.out" "$work/multus-daemon.log" >&2; exit 1; }
        sleep 0.05
    done
    [ -s "$conf" ] || { echo "multus-daemon wrote no $conf" >&2; cat "$work/multus-daemon.log" >&2; exit 1; }
    echo "   pid $daemon_pid; it generated $conf for the shim:"
    echo "   $(cat "$conf")"
fi

cni() {
    CNI_COMMAND=$1 CNI_CONTAINERID=$container CNI_NETNS=/var/run/netns/$netns CNI_IFNAME=eth0 \
        CNI_PATH=/usr/lib/cni \
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=pod-case-06;K8S_POD_INFRA_CONTAINER_ID=$container;K8S_POD_UID=$uid" \
        "$bin/$plugin" <"$conf"
}

echo
echo "== CNI ADD through $plugin (networks: macvlan-conf-1 as macvlan1, macvlan-conf-2)"
added=1
cni ADD
echo
echo
echo "== ip -d address in the pod's network namespace"
ip -n "$netns" -d address
echo
echo "== k8s.v1.cni.cncf.io/network-status of pod-case-06"
pod_json | python3 -c 'import json,sys; print(json.load(sys.stdin)["metadata"]["annotations"]["k8s.v1.cni.cncf.io/network-status"])'
echo
echo "== CNI DEL"
cni DEL
added=
echo "   links left in the namespace: $(ip -n "$netns" -o link | awk -F': ' '{print $2}' | tr '\n' ' ')"
echo "   multus caches left: $(find "$work/cni" -type f | wc -l), IP reservations left: $(find "$work/ipam" -type f -name '[0-9]*' | wc -l)"
if [ "$mode" = thick ]; then
    echo
    echo "== stopping multus-daemon (SIGTERM to pid $daemon_pid)"
    kill "$daemon_pid"
    status=0
    wait "$daemon_pid" || status=$?
    daemon_pid=
    echo "   exit status $status; 00-multus.conf $([ -e "$conf" ] && echo "still there" || echo "removed")"
fi
