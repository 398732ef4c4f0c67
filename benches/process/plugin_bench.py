#!/usr/bin/env python3
"""Whole-process cost of the `multus` binary per CNI invocation.

Measures, in one run on this machine (root needed: it creates a network
namespace):

* ADD and DEL through `multus` with a delegates-only config (bridge +
  host-local as the default network, no Kubernetes), wall time and peak RSS;
* the same bridge delegate run directly, as a runtime would without multus:
  the difference is multus's own share;
* `multus` with a trivial delegate (a /bin/sh script printing a fixed result),
  whose peak RSS is multus's own (a process tree's peak RSS is the peak of its
  largest process, and the Go bridge plugin is larger than multus);
* `multus` answering VERSION: start-up alone.

Usage: sudo python3 benches/process/plugin_bench.py [--iterations N] [--binary PATH]
Needs GNU time (`apt-get install time`) for the peak RSS.
Builds the release binary unless --binary is given. Prints a Markdown table.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

PLUGINS = "/usr/lib/cni"


TIME = "/usr/bin/time"


def run(argv, env, stdin):
    """Runs one process; returns (exit status, stdout, wall seconds, peak RSS in KiB).

    The peak RSS comes from GNU time: a forked Python child would carry the
    interpreter's own resident set into the measured process's high-water mark.
    """
    rss_file = tempfile.NamedTemporaryFile(prefix="multus-bench-rss-", delete=False)
    rss_file.close()
    argv = [TIME, "-f", "%M", "-o", rss_file.name] + argv
    read_fd, write_fd = os.pipe()
    out_r, out_w = os.pipe()
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        os.dup2(read_fd, 0)
        os.dup2(out_w, 1)
        for fd in (read_fd, write_fd, out_r, out_w):
            os.close(fd)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.execve(argv[0], argv, env)
    os.close(read_fd)
    os.close(out_w)
    os.write(write_fd, stdin)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(out_r, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(out_r)
    _, status = os.waitpid(pid, 0)
    wall = time.perf_counter() - start
    with open(rss_file.name) as f:
        lines = f.read().split()
    os.unlink(rss_file.name)
    kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    return os.waitstatus_to_exitcode(status), b"".join(chunks), wall, kib


def cni_env(command, container, netns, ifname="eth0"):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    env.update(
        CNI_COMMAND=command,
        CNI_CONTAINERID=container,
        CNI_NETNS=netns,
        CNI_IFNAME=ifname,
        CNI_PATH=PLUGINS,
        CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench",
    )
    return env


def measure(label, iterations, op):
    walls, rss = {}, {}
    for i in range(iterations):
        for cmd, (wall, kib) in op(i).items():
            walls.setdefault(cmd, []).append(wall)
            rss.setdefault(cmd, []).append(kib)
    return {cmd: (statistics.median(walls[cmd]) * 1000, max(rss[cmd]) / 1024) for cmd in walls}


def checked(result, what):
    code, out, wall, kib = result
    if code != 0:
        sys.exit(f"{what} failed (exit {code}): {out.decode(errors='replace')}")
    return wall, kib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=30)
    parser.add_argument("--binary")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark creates a network namespace")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"{TIME} is missing: apt-get install time")
    if not os.access(f"{PLUGINS}/bridge", os.X_OK):
        sys.exit(f"{PLUGINS}/bridge is missing: apt-get install containernetworking-plugins")

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    binary = args.binary
    if not binary:
        subprocess.run(["cargo", "build", "-q", "--release", "--locked", "-p", "multus-cli", "--bin", "multus"],
                       cwd=root, check=True)
        binary = os.path.join(root, "target", "release", "multus")

    tag = f"{os.getpid() % 65536:04x}"
    netns_name, bridge = f"mrs-bench-{tag}", f"mrsbb{tag}"
    work = tempfile.mkdtemp(prefix="multus-bench-")
    subprocess.run(["ip", "netns", "add", netns_name], check=True)
    netns = f"/var/run/netns/{netns_name}"
    try:
        delegate = {
            "cniVersion": "0.3.1", "name": "bench-net", "type": "bridge", "bridge": bridge,
            "isGateway": True,
            "ipam": {"type": "host-local", "subnet": "10.251.0.0/16", "dataDir": f"{work}/ipam"},
        }
        multus_conf = lambda delegates: json.dumps({
            "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
            "cniDir": f"{work}/cni", "binDir": PLUGINS, "delegates": delegates,
        }).encode()
        conf = multus_conf([delegate])

        script_dir = f"{work}/bin"
        os.makedirs(script_dir)
        with open(f"{script_dir}/noop", "w") as f:
            f.write('#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && '
                    'printf \'{"cniVersion":"0.3.1","ips":[{"version":"4","address":"10.252.0.2/24"}]}\'\nexit 0\n')
        os.chmod(f"{script_dir}/noop", 0o755)
        trivial = json.dumps({
            "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
            "cniDir": f"{work}/cni-trivial", "binDir": script_dir,
            "delegates": [{"cniVersion": "0.3.1", "name": "noop-net", "type": "noop"}],
        }).encode()

        def through_multus(i):
            cid = f"bench{i}"
            add = checked(run([binary], cni_env("ADD", cid, netns), conf), "multus ADD")
            dele = checked(run([binary], cni_env("DEL", cid, netns), conf), "multus DEL")
            return {"ADD": add, "DEL": dele}

        def direct(i):
            cid = f"direct{i}"
            add = checked(run([f"{PLUGINS}/bridge"], cni_env("ADD", cid, netns), json.dumps(delegate).encode()),
                          "bridge ADD")
            dele = checked(run([f"{PLUGINS}/bridge"], cni_env("DEL", cid, netns), json.dumps(delegate).encode()),
                           "bridge DEL")
            return {"ADD": add, "DEL": dele}

        def with_trivial(i):
            cid = f"trivial{i}"
            add = checked(run([binary], cni_env("ADD", cid, netns), trivial), "multus ADD (trivial)")
            dele = checked(run([binary], cni_env("DEL", cid, netns), trivial), "multus DEL (trivial)")
            return {"ADD": add, "DEL": dele}

        def version(_):
            env = {"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"}
            return {"VERSION": checked(run([binary], env, b"{}"), "multus VERSION")}

        # Warm the page cache once, then measure each series in turn.
        through_multus(-1), direct(-1)
        m = measure("multus", args.iterations, through_multus)
        d = measure("direct", args.iterations, direct)
        t = measure("trivial", args.iterations, with_trivial)
        v = measure("version", args.iterations, version)

        size = os.path.getsize(binary) / 1e6
        print(f"multus binary: {binary} ({size:.1f} MB), {args.iterations} iterations each, medians\n")
        print("| invocation | wall time | peak RSS (largest process of the tree) |")
        print("|---|---|---|")
        for cmd in ("ADD", "DEL"):
            print(f"| multus {cmd} (bridge + host-local delegate) | {m[cmd][0]:.2f} ms | {m[cmd][1]:.1f} MiB |")
            print(f"| bridge {cmd} run directly (no multus) | {d[cmd][0]:.2f} ms | {d[cmd][1]:.1f} MiB |")
        for cmd in ("ADD", "DEL"):
            print(f"| multus {cmd} with a trivial /bin/sh delegate | {t[cmd][0]:.2f} ms | {t[cmd][1]:.1f} MiB |")
        print(f"| multus VERSION (start-up only) | {v['VERSION'][0]:.2f} ms | {v['VERSION'][1]:.1f} MiB |")
        print()
        for cmd in ("ADD", "DEL"):
            share = m[cmd][0] - d[cmd][0]
            print(f"multus's own share of {cmd}: {share:.2f} ms of {m[cmd][0]:.2f} ms "
                  f"(ratio through multus / direct = {m[cmd][0] / d[cmd][0]:.2f})")
    finally:
        subprocess.run(["ip", "netns", "del", netns_name], check=False)
        subprocess.run(["ip", "link", "del", bridge], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
