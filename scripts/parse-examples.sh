#!/usr/bin/env bash
# Parses the networks annotations of the user guide's example pods
# (pod-case-01 .. pod-case-06, samplepod) and the guide's multus config the
# way multus reads them, with the parse-annotation and parse-config examples.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build -q --examples

run() {
    local pod=$1 ns=$2 value=$3
    printf '\n== %s (namespace %s)\n   k8s.v1.cni.cncf.io/networks: %s\n' "$pod" "$ns" "$value"
    cargo run -q --example parse-annotation -- --namespace "$ns" "$value"
}

run pod-case-01 default 'macvlan-conf-1, macvlan-conf-2'
run pod-case-02 default 'testns1/macvlan-conf-3'
run pod-case-03 default 'macvlan-conf-1@macvlan1'
run pod-case-04 default '[
  { "name" : "macvlan-conf-1" },
  { "name" : "macvlan-conf-2" }
]'
run pod-case-05 default '[
  { "name" : "macvlan-conf-1",
    "namespace": "testns1" }
]'
run pod-case-06 default '[
  { "name" : "macvlan-conf-1",
    "interface": "macvlan1" },
  { "name" : "macvlan-conf-2" }
]'
run samplepod default '[{
  "name": "macvlan-conf",
  "default-route": ["192.168.2.1"]
}]'

printf '\n== a bad annotation is refused with the reason\n'
if cargo run -q --example parse-annotation -- --namespace default 'Macvlan_Conf'; then
    echo "expected an error" >&2
    exit 1
fi

printf '\n== the guide'"'"'s 00-multus.conf, effective values\n'
cargo run -q --example parse-config -- examples/guide/00-multus.conf
