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

With --thick, also the thick plugin against the thin one, in the same run,
both talking to the stand-in Kubernetes API server (a kubeconfig, as in a
cluster): ADD and DEL through `multus-shim` -> `multus-daemon` (one daemon,
started once, on a socket directory of its own) vs the thin `multus`, for a
pod without networks annotation (the default network only: delegates) and a
pod with two NADs (bridge + host-local each); the shim's size, start-up
(VERSION) and peak RSS, and the daemon's peak RSS after the run.

Usage: sudo python3 benches/process/plugin_bench.py [--iterations N] [--binary PATH] [--thick]
Needs GNU time (`apt-get install time`) for the peak RSS.
Builds the release binaries unless --binary is given (binaries are taken from
$CARGO_TARGET_DIR, default target/). Prints Markdown tables.
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
    try:
        os.write(write_fd, stdin)
    except BrokenPipeError:
        pass  # VERSION need not read stdin
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
    parser.add_argument("--thick", action="store_true",
                        help="also compare multus-shim -> multus-daemon with the thin multus")
    parser.add_argument("--apiserver", help="stand-in-apiserver binary (default: next to --binary)")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root: the benchmark creates a network namespace")
    if not os.access(TIME, os.X_OK):
        sys.exit(f"{TIME} is missing: apt-get install time")
    if not os.access(f"{PLUGINS}/bridge", os.X_OK):
        sys.exit(f"{PLUGINS}/bridge is missing: apt-get install containernetworking-plugins")

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(root, "target")
    binary = args.binary
    if not binary:
        build = ["cargo", "build", "-q", "--release", "--locked", "-p", "multus-cli", "--bin", "multus"]
        if args.thick:
            build += ["--bin", "multus-daemon", "-p", "multus-shim", "-p", "multus-testsupport",
                      "--bin", "stand-in-apiserver"]
        subprocess.run(build, cwd=root, check=True)
        binary = os.path.join(target, "release", "multus")

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
        if args.thick:
            print()
            thick(args, binary, work, tag, netns, delegate, d)
    finally:
        subprocess.run(["ip", "netns", "del", netns_name], check=False)
        for link in (bridge, f"mrsba{tag}", f"mrsbb{tag}"):
            subprocess.run(["ip", "link", "del", link], check=False, stderr=subprocess.DEVNULL)
        shutil.rmtree(work, ignore_errors=True)


def sibling(binary, name):
    """A binary of the same build as `binary` (same directory)."""
    path = os.path.join(os.path.dirname(os.path.abspath(binary)), name)
    if not os.access(path, os.X_OK):
        sys.exit(f"{path} is missing: cargo build --release -p multus-cli -p multus-shim "
                 f"-p multus-testsupport --bin stand-in-apiserver")
    return path


def wait_for(what, check, proc, log, seconds=30):
    deadline = time.monotonic() + seconds
    while not check():
        if proc.poll() is not None:
            sys.exit(f"{what}: exited with {proc.returncode}: {open(log).read()}")
        if time.monotonic() > deadline:
            sys.exit(f"{what}: not ready after {seconds}s: {open(log).read()}")
        time.sleep(0.02)


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def thick(args, binary, work, tag, netns, delegate, direct):
    """multus-shim -> multus-daemon vs the thin multus, same pods, same API server."""
    shim, daemon_bin = sibling(binary, "multus-shim"), sibling(binary, "multus-daemon")
    apiserver = args.apiserver or sibling(binary, "stand-in-apiserver")

    # The API server: two NADs (bridge + host-local, bridges of the bench's
    # own) and two pods, one without networks annotation, one with both NADs.
    def nad(name, br, subnet):
        config = {"cniVersion": "0.3.1", "name": name, "type": "bridge", "bridge": br,
                  "ipam": {"type": "host-local", "subnet": subnet, "dataDir": f"{work}/ipam"}}
        return {"apiVersion": "k8s.cni.cncf.io/v1", "kind": "NetworkAttachmentDefinition",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"config": json.dumps(config)}}

    def pod(name, networks=None):
        meta = {"name": name, "namespace": "default"}
        if networks:
            meta["annotations"] = {"k8s.v1.cni.cncf.io/networks": networks}
        return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}

    objects = [nad("bench-a", f"mrsba{tag}", "10.253.0.0/16"), nad("bench-b", f"mrsbb{tag}", "10.254.0.0/16"),
               pod("bench-plain"), pod("bench-nads", "bench-a, bench-b")]
    manifests = []
    for i, obj in enumerate(objects):
        path = f"{work}/manifest-{i}.json"
        with open(path, "w") as f:
            json.dump(obj, f)
        manifests.append(path)
    kubeconfig = f"{work}/kubeconfig"
    api_log = f"{work}/apiserver.out"
    api = subprocess.Popen([apiserver, "--kubeconfig-out", kubeconfig, "--load", *manifests],
                           stdout=open(api_log, "w"), stderr=subprocess.STDOUT)
    daemon = None
    try:
        wait_for("stand-in-apiserver", lambda: "listening on" in open(api_log).read(), api, api_log)

        # The daemon: the user's multus config given as a file (the daemon
        # keeps serving), its own socket dir, one Kubernetes client.
        os.makedirs(f"{work}/cni-conf")
        with open(f"{work}/user-multus.conf", "w") as f:
            f.write("{}")
        daemon_config = {
            "socketDir": f"{work}/run", "multusConfigFile": f"{work}/user-multus.conf",
            "cniConfigDir": f"{work}/cni-conf", "kubeconfig": kubeconfig, "cniDir": f"{work}/cni-thick",
            "binDir": PLUGINS,
        }
        with open(f"{work}/daemon-config.json", "w") as f:
            json.dump(daemon_config, f)
        daemon_log = f"{work}/daemon.log"
        daemon = subprocess.Popen([daemon_bin, "-config", f"{work}/daemon-config.json"],
                                  stdout=open(daemon_log, "w"), stderr=subprocess.STDOUT)
        wait_for("multus-daemon", lambda: os.path.exists(f"{work}/run/multus.sock"), daemon, daemon_log)

        thin_conf = json.dumps({
            "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus",
            "kubeconfig": kubeconfig, "cniDir": f"{work}/cni-thin", "binDir": PLUGINS,
            "delegates": [delegate],
        }).encode()
        shim_conf = json.dumps({
            "cniVersion": "0.3.1", "name": "multus-cni-network", "type": "multus-shim",
            "daemonSocketDir": f"{work}/run", "delegates": [delegate],
        }).encode()

        def pod_env(command, cid, name):
            env = cni_env(command, cid, netns)
            env["CNI_ARGS"] = f"IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME={name}"
            return env

        def paired(label, pod_name):
            """Thin and thick interleaved, iteration by iteration, so that
            the load of this shared machine weighs on both alike."""
            def op(i):
                out = {}
                for arm, argv, conf in (("thin", [binary], thin_conf), ("thick", [shim], shim_conf)):
                    cid = f"{label}{arm}{i}"
                    out[f"{arm} ADD"] = checked(run(argv, pod_env("ADD", cid, pod_name), conf), f"{arm} ADD")
                    out[f"{arm} DEL"] = checked(run(argv, pod_env("DEL", cid, pod_name), conf), f"{arm} DEL")
                return out
            op(-1)  # warm up (page cache, the daemon's first connection to the API)
            m = measure(label, args.iterations, op)
            return ({cmd: m[f"thin {cmd}"] for cmd in ("ADD", "DEL")},
                    {cmd: m[f"thick {cmd}"] for cmd in ("ADD", "DEL")})

        thin_plain, thick_plain = paired("plain", "bench-plain")
        thin_nads, thick_nads = paired("nads", "bench-nads")
        version = measure("shim-version", args.iterations, lambda _: {"VERSION": checked(
            run([shim], {"CNI_COMMAND": "VERSION", "PATH": "/usr/bin:/bin"}, b"{}"), "shim VERSION")})
        daemon_rss = peak_rss_kib(daemon.pid) / 1024

        print(f"thick vs thin: {args.iterations} iterations each, medians; both with the stand-in API "
              f"server ({apiserver}); peak RSS of the plugin process run by the runtime\n")
        print("| pod | command | thin `multus` | `multus-shim` -> daemon | thick / thin | peak RSS thin / shim |")
        print("|---|---|---|---|---|---|")
        for name, thin_m, thick_m in (("default network only (delegates)", thin_plain, thick_plain),
                                      ("two NADs (3 attachments)", thin_nads, thick_nads)):
            for cmd in ("ADD", "DEL"):
                print(f"| {name} | {cmd} | {thin_m[cmd][0]:.2f} ms | {thick_m[cmd][0]:.2f} ms | "
                      f"{thick_m[cmd][0] / thin_m[cmd][0]:.2f} | "
                      f"{thin_m[cmd][1]:.1f} MiB / {thick_m[cmd][1]:.1f} MiB |")
        print()
        for cmd in ("ADD", "DEL"):
            thin_share = thin_plain[cmd][0] - direct[cmd][0]
            thick_share = thick_plain[cmd][0] - direct[cmd][0]
            print(f"own share of {cmd} (default network only; minus the bridge plugin run directly, "
                  f"{direct[cmd][0]:.2f} ms): thin {thin_share:.2f} ms, thick {thick_share:.2f} ms "
                  f"(thick / thin = {thick_share / thin_share:.2f})")
        size = os.path.getsize(shim)
        print(f"\nmultus-shim binary: {shim}: {size / 1e6:.2f} MB ({size} bytes{', stripped by the release profile' if '/release/' in shim else ''}); thin multus "
              f"{os.path.getsize(binary) / 1e6:.1f} MB (shim / multus = {size / os.path.getsize(binary):.3f})")
        print(f"multus-shim VERSION (start-up): {version['VERSION'][0]:.2f} ms, peak RSS "
              f"{version['VERSION'][1]:.1f} MiB")
        print(f"multus-daemon peak RSS after {4 * (args.iterations + 1)} ADD/DEL pairs: {daemon_rss:.1f} MiB")
    finally:
        if daemon is not None:
            daemon.terminate()
            daemon.wait(timeout=30)
        api.terminate()
        api.wait(timeout=30)


if __name__ == "__main__":
    main()
