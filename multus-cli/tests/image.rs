//! The container image, run the way the DaemonSets run it.
//!
//! The image is built by `scripts/image.sh` (which `scripts/test.sh` runs
//! when a Docker engine is available) and named by `MULTUS_IMAGE`. Every
//! command, argument and mount path comes from `deployments/*.yml`, read by
//! the test, so a manifest that drifts from the image fails here. The hosts'
//! directories the manifests mount are temporary directories.
//!
//! Needs root and a running dockerd; fails (never skips) without
//! `MULTUS_IMAGE`, unless `MULTUS_SKIP_IMAGE=1`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::{
    Fixture, MASTER, assert_attached, assert_master_result, macvlan_conf_1, macvlan_conf_2,
};
use multus_testsupport::netns::random_hex;
use multus_testsupport::read_manifests;
use serde_json::{Value, json};

/// The image under test, or `None` when image tests are skipped on purpose.
fn image() -> Option<String> {
    match std::env::var("MULTUS_IMAGE") {
        Ok(image) if !image.is_empty() => Some(image),
        _ if std::env::var("MULTUS_SKIP_IMAGE").is_ok_and(|v| v == "1") => None,
        _ => panic!(
            "MULTUS_IMAGE is not set: build the image with scripts/image.sh (needs dockerd) \
             and set MULTUS_IMAGE to the reference it prints (scripts/test.sh does both), \
             or set MULTUS_SKIP_IMAGE=1 to skip the image tests"
        ),
    }
}

/// The DaemonSet of a manifest under `deployments/`.
fn daemonset(file: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deployments")
        .join(file);
    read_manifests(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .into_iter()
        .find(|doc| doc["kind"] == "DaemonSet")
        .unwrap_or_else(|| panic!("{file} has no DaemonSet"))
}

/// The pod template's (init) container, the only one of its kind.
fn container(ds: &Value, init: bool) -> &Value {
    let key = if init { "initContainers" } else { "containers" };
    let list = ds["spec"]["template"]["spec"][key].as_array().unwrap();
    assert_eq!(list.len(), 1, "one {key} entry expected");
    &list[0]
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .map(|a| a.iter().map(|v| v.as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

/// `command` then `args`, as the kubelet runs them.
fn command_line(container: &Value) -> Vec<String> {
    let mut line = strings(&container["command"]);
    assert!(!line.is_empty(), "container without command: {container}");
    line.extend(strings(&container["args"]));
    line
}

/// Where the container mounts the volume `volume`.
fn mount_path(container: &Value, volume: &str) -> String {
    container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == volume)
        .unwrap_or_else(|| panic!("no mount of {volume} in {}", container["name"]))["mountPath"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("run docker")
}

fn docker_ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {args:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// `docker run` arguments for a container's command: `--entrypoint` is the
/// first word, the rest come after the image.
fn run_args(image: &str, line: &[String]) -> (Vec<String>, Vec<String>) {
    (
        vec!["--entrypoint".into(), line[0].clone()],
        std::iter::once(image.to_owned())
            .chain(line[1..].iter().cloned())
            .collect(),
    )
}

fn volume_arg(host: &Path, container_path: &str) -> String {
    format!("--volume={}:{container_path}", host.display())
}

fn wait_for_file(path: &Path, what: &str) {
    let start = Instant::now();
    while !path.exists() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Stops and removes a container when the test ends, however it ends.
struct Running(String);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = docker(&["rm", "--force", &self.0]);
    }
}

/// The thin DaemonSet: the init container installs `multus` into the host's
/// CNI bin dir; the main container (`thin_entrypoint`, with the manifest's
/// arguments) writes `00-multus.conf` and the kubeconfig into the host's CNI
/// config dir from the service account, and removes the config when stopped;
/// the installed `multus`, run on the host, attaches the guide's pod-case-06.
#[test]
fn thin_daemonset_installs_a_working_multus() {
    let Some(fx) = Fixture::new() else { return };
    let Some(image) = image() else { return };
    let ds = daemonset("multus-daemonset.yml");
    let (init, main) = (container(&ds, true), container(&ds, false));
    let host = fx.tmp.path().join("host");
    let (bin, netd, sa) = (
        host.join("opt-cni-bin"),
        host.join("etc-cni-net.d"),
        host.join("sa"),
    );
    for dir in [&bin, &netd, &sa] {
        std::fs::create_dir_all(dir).unwrap();
    }

    // The init container, with the host's bin dir where the manifest mounts it.
    let (entry, rest) = run_args(&image, &command_line(init));
    let mut args = vec!["run", "--rm", "--network=none"];
    let volume = volume_arg(&bin, &mount_path(init, "cnibin"));
    args.push(&volume);
    args.extend(entry.iter().map(String::as_str));
    args.extend(rest.iter().map(String::as_str));
    docker_ok(&args);
    let multus = bin.join("multus");
    assert_eq!(mode(&multus) & 0o111, 0o111, "multus is not executable");
    let version = Command::new(&multus)
        .env("CNI_COMMAND", "VERSION")
        .output()
        .unwrap();
    let version: Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(version["cniVersion"], "1.1.0", "{version}");

    // The main container: a primary CNI config on the host, a service account,
    // the in-cluster environment.
    let primary = json!({"cniVersion": "0.3.1", "name": "cbr0", "plugins": [
        {"type": "bridge", "bridge": "cni0", "ipam": {"type": "host-local", "subnet": "10.244.9.0/24"}}
    ]});
    std::fs::write(netd.join("10-cbr0.conflist"), primary.to_string()).unwrap();
    let token = format!("token-{}", random_hex(16));
    std::fs::write(sa.join("token"), &token).unwrap();
    std::fs::write(
        sa.join("ca.crt"),
        "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    std::fs::write(sa.join("namespace"), "kube-system").unwrap();
    let name = format!("mrs-image-thin-{}", random_hex(6));
    let (entry, rest) = run_args(&image, &command_line(main));
    let volumes = [
        volume_arg(&netd, &mount_path(main, "cni")),
        volume_arg(&bin, &mount_path(main, "cnibin")),
        format!(
            "--volume={}:/var/run/secrets/kubernetes.io/serviceaccount:ro",
            sa.display()
        ),
    ];
    let name_arg = format!("--name={name}");
    let mut args = vec![
        "run",
        "--detach",
        "--network=none",
        &name_arg,
        "--env=KUBERNETES_SERVICE_HOST=10.96.0.1",
        "--env=KUBERNETES_SERVICE_PORT=443",
    ];
    args.extend(volumes.iter().map(String::as_str));
    args.extend(entry.iter().map(String::as_str));
    args.extend(rest.iter().map(String::as_str));
    docker_ok(&args);
    let running = Running(name.clone());

    let conf_path = netd.join("00-multus.conf");
    let kubeconfig = netd.join("multus.d/multus.kubeconfig");
    wait_for_file(&conf_path, "00-multus.conf");
    wait_for_file(&kubeconfig, "the kubeconfig");
    assert_eq!(mode(&conf_path), 0o600);
    assert_eq!(mode(&kubeconfig), 0o600);
    let conf: Value = serde_json::from_str(&std::fs::read_to_string(&conf_path).unwrap()).unwrap();
    assert_eq!(conf["type"], "multus", "{conf}");
    assert_eq!(
        conf["kubeconfig"], "/etc/cni/net.d/multus.d/multus.kubeconfig",
        "{conf}"
    );
    assert_eq!(conf["delegates"][0]["name"], "cbr0", "{conf}");
    assert_eq!(
        conf["delegates"][0]["plugins"][0]["type"], "bridge",
        "{conf}"
    );
    let kc = std::fs::read_to_string(&kubeconfig).unwrap();
    assert!(kc.contains("https://10.96.0.1:443"), "{kc}");
    assert!(
        kc.contains(&token),
        "the service account token is not in the kubeconfig"
    );

    // SIGTERM (docker stop): the generated config goes, as --cleanup-config-on-exit says.
    docker_ok(&["stop", "--time=10", &name]);
    let code = docker_ok(&["inspect", "--format={{.State.ExitCode}}", &name]);
    assert_eq!(code, "0");
    assert!(!conf_path.exists(), "00-multus.conf left after stop");
    drop(running);

    // The installed binary, run from the host, attaches the guide's pod-case-06.
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-06.yaml");
    let conf = fx.conf("0.3.1");
    let run = fx.run_binary(&multus, "ADD", &conf, &pod);
    run.assert_ok();
    assert_master_result(&fx, &run, "0.3.1");
    assert_attached(
        &fx,
        &pod,
        &[
            MASTER,
            macvlan_conf_1("macvlan1", "default/macvlan-conf-1"),
            macvlan_conf_2("net2"),
        ],
    );
    fx.run_binary(&multus, "DEL", &conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);
}

/// The image holds the programs both manifests name and nothing to run
/// besides: no shell.
#[test]
fn image_holds_the_programs_and_no_shell() {
    let Some(image) = image() else { return };
    let mut paths: Vec<String> = Vec::new();
    for file in ["multus-daemonset.yml", "multus-daemonset-thick.yml"] {
        let ds = daemonset(file);
        for init in [true, false] {
            paths.push(command_line(container(&ds, init))[0].clone());
        }
    }
    paths.extend(
        ["multus", "multus-shim", "passthru"].map(|b| format!("/usr/src/multus-cni/bin/{b}")),
    );
    let name = format!("mrs-image-ls-{}", random_hex(6));
    docker_ok(&["create", &format!("--name={name}"), &image]);
    let _created = Running(name.clone());
    let export = docker(&["export", &name]);
    assert!(export.status.success());
    let listing = list_tar(&export.stdout);
    for path in &paths {
        assert!(
            listing.iter().any(|p| format!("/{p}") == *path),
            "{path} is not in the image: {listing:?}"
        );
    }
    for shell in ["bin/sh", "bin/bash", "bin/busybox"] {
        assert!(!listing.iter().any(|p| p == shell), "{shell} in the image");
    }
    // The programs are static: nothing else is needed in a scratch image.
    let dir = tempfile::tempdir().unwrap();
    let shim = extract(
        &export.stdout,
        "usr/src/multus-cni/bin/multus-shim",
        dir.path(),
    );
    let out = Command::new("ldd").arg(&shim).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("not a dynamic executable") || text.contains("statically linked"),
        "{text}"
    );
}

/// The entries of a tar archive (ustar headers, 512-byte blocks): each
/// path (prefix joined, no trailing `/`) with its contents.
fn tar_entries(tar: &[u8]) -> Vec<(String, &[u8])> {
    let field = |header: &[u8], range: std::ops::Range<usize>| {
        String::from_utf8_lossy(&header[range])
            .trim_end_matches('\0')
            .to_owned()
    };
    let mut entries = Vec::new();
    let mut at = 0;
    while at + 512 <= tar.len() {
        let header = &tar[at..at + 512];
        if header.iter().all(|b| *b == 0) {
            break;
        }
        let (name, prefix) = (field(header, 0..100), field(header, 345..500));
        let size = usize::from_str_radix(
            String::from_utf8_lossy(&header[124..136])
                .trim_matches(|c: char| c == '\0' || c == ' '),
            8,
        )
        .unwrap_or(0);
        let path = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let body = &tar[(at + 512).min(tar.len())..(at + 512 + size).min(tar.len())];
        entries.push((path.trim_end_matches('/').to_owned(), body));
        at += 512 + size.div_ceil(512) * 512;
    }
    entries
}

/// The file names of a tar archive.
fn list_tar(tar: &[u8]) -> Vec<String> {
    tar_entries(tar).into_iter().map(|(path, _)| path).collect()
}

/// Writes one file of a tar archive into `dir`.
fn extract(tar: &[u8], wanted: &str, dir: &Path) -> PathBuf {
    let (_, body) = tar_entries(tar)
        .into_iter()
        .find(|(path, _)| path == wanted)
        .unwrap_or_else(|| panic!("{wanted} not in the archive"));
    let path = dir.join(Path::new(wanted).file_name().unwrap());
    std::fs::write(&path, body).unwrap();
    path
}

/// The thick DaemonSet: the init container installs `multus-shim` and
/// `passthru`; the daemon container runs as the manifest says (privileged,
/// host network and PID namespace, the manifest's mounts, the ConfigMap's
/// `daemon-config.json`), generates `00-multus.conf` for the shim from the
/// node's primary config, and serves the guide's pod-case-06 through the
/// installed shim on the host; `docker stop` removes the generated config.
///
/// Emulated for the test: host directories are temporary ones (except `/`
/// for `hostroot` and `/run/netns`, which must be the real ones for plugins
/// chrooted into the host to see the pod's namespace); the daemon config
/// gains the test's kubeconfig (the stand-in API server), `binDir`
/// `/usr/lib/cni` (where this host has its plugins, mounted at the same
/// path so the chrooted exec finds them) and the fixture's `cniDir`; the
/// shim's `daemonSocketDir` points at the emulated host `/run`.
#[test]
fn thick_daemonset_serves_pods_through_the_installed_shim() {
    let Some(fx) = Fixture::new() else { return };
    let Some(image) = image() else { return };
    let ds = daemonset("multus-daemonset-thick.yml");
    let (init, main) = (container(&ds, true), container(&ds, false));
    let host = fx.tmp.path().join("host");
    let dirs = [
        "opt-cni-bin",
        "etc-cni-net.d",
        "run",
        "var-lib-kubelet",
        "k8s-cni",
        "config",
    ];
    for d in dirs {
        std::fs::create_dir_all(host.join(d)).unwrap();
    }
    let (bin, netd, run, config_dir) = (
        host.join("opt-cni-bin"),
        host.join("etc-cni-net.d"),
        host.join("run"),
        host.join("config"),
    );

    // The init container.
    let (entry, rest) = run_args(&image, &command_line(init));
    let volume = volume_arg(&bin, &mount_path(init, "cnibin"));
    let mut args = vec!["run", "--rm", "--network=none", volume.as_str()];
    args.extend(entry.iter().map(String::as_str));
    args.extend(rest.iter().map(String::as_str));
    docker_ok(&args);
    let shim = bin.join("multus-shim");
    assert!(bin.join("passthru").is_file(), "passthru not installed");
    let version = Command::new(&shim)
        .env("CNI_COMMAND", "VERSION")
        .output()
        .unwrap();
    let version: Value = serde_json::from_slice(&version.stdout).unwrap();
    assert_eq!(version["cniVersion"], "1.1.0", "{version}");

    // The daemon config from the manifest's ConfigMap, plus what the test needs.
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deployments/multus-daemonset-thick.yml");
    let config_map = read_manifests(&path)
        .unwrap()
        .into_iter()
        .find(|d| d["kind"] == "ConfigMap")
        .expect("the thick manifest has the daemon's ConfigMap");
    let mut config: Value =
        serde_json::from_str(config_map["data"]["daemon-config.json"].as_str().unwrap()).unwrap();
    let config_mount = mount_path(main, "multus-daemon-config");
    std::fs::copy(&fx.kubeconfig, config_dir.join("stand-in.kubeconfig")).unwrap();
    config["kubeconfig"] = json!(format!("{config_mount}/stand-in.kubeconfig"));
    config["binDir"] = json!("/usr/lib/cni");
    config["cniDir"] = json!(fx.cni_dir);
    config["confDir"] = json!(mount_path(main, "multus-conf-dir"));
    std::fs::write(config_dir.join("daemon-config.json"), config.to_string()).unwrap();
    // The node's primary network: the fixture's bridge + host-local.
    let master = fx.master_delegate("0.3.1");
    std::fs::write(netd.join("10-default.conf"), master.to_string()).unwrap();
    fx.install_macvlan2_conf();
    std::fs::create_dir_all(&fx.cni_dir).unwrap();

    // What the docker flags below stand for, as the manifest says it.
    let pod_spec = &ds["spec"]["template"]["spec"];
    assert_eq!(pod_spec["hostNetwork"], true);
    assert_eq!(pod_spec["hostPID"], true);
    assert_eq!(main["securityContext"]["privileged"], true);
    let name = format!("mrs-image-thick-{}", random_hex(6));
    let volumes = [
        volume_arg(&netd, &mount_path(main, "cni")),
        volume_arg(&bin, &mount_path(main, "cnibin")),
        volume_arg(&run, &mount_path(main, "host-run")),
        volume_arg(&fx.cni_dir, &fx.cni_dir.display().to_string()),
        volume_arg(
            &host.join("var-lib-kubelet"),
            &mount_path(main, "host-var-lib-kubelet"),
        ),
        volume_arg(
            &host.join("k8s-cni"),
            &mount_path(main, "host-run-k8s-cni-cncf-io"),
        ),
        volume_arg(Path::new("/run/netns"), &mount_path(main, "host-run-netns")),
        volume_arg(&config_dir, &config_mount),
        volume_arg(Path::new("/"), &mount_path(main, "hostroot")),
        volume_arg(&fx.conf_dir, &mount_path(main, "multus-conf-dir")),
        "--volume=/usr/lib/cni:/usr/lib/cni:ro".to_owned(),
    ];
    let name_arg = format!("--name={name}");
    let (entry, rest) = run_args(&image, &command_line(main));
    // The manifest's `privileged: true`. This machine's root has every
    // capability but CAP_SYS_RESOURCE, so `--privileged` itself cannot start
    // a container here: every other capability, no seccomp or AppArmor
    // profile stands in for it.
    let mut args = vec![
        "run",
        "--detach",
        "--cap-add=ALL",
        "--cap-drop=SYS_RESOURCE",
        "--security-opt=seccomp=unconfined",
        "--security-opt=apparmor=unconfined",
        "--network=host",
        "--pid=host",
        &name_arg,
        "--env=MULTUS_NODE_NAME=",
    ];
    args.extend(volumes.iter().map(String::as_str));
    args.extend(entry.iter().map(String::as_str));
    args.extend(rest.iter().map(String::as_str));
    docker_ok(&args);
    let running = Running(name.clone());

    let generated = netd.join("00-multus.conf");
    wait_for_file(&generated, "the generated 00-multus.conf");
    wait_for_file(&run.join("multus/multus.sock"), "the daemon's socket");
    assert_eq!(mode(&generated), 0o600);
    let mut shim_conf: Value =
        serde_json::from_str(&std::fs::read_to_string(&generated).unwrap()).unwrap();
    assert_eq!(shim_conf["type"], "multus-shim", "{shim_conf}");
    assert_eq!(
        shim_conf["clusterNetwork"],
        format!("{}/10-default.conf", mount_path(main, "cni")),
        "{shim_conf}"
    );
    // On a node the host's /run is the container's /host/run: the shim's default
    // /run/multus/ is the daemon's socket. Here /run is emulated.
    shim_conf["daemonSocketDir"] = json!(run.join("multus"));

    // The guide's pod-case-06 through the installed shim.
    fx.load_macvlan_conf_1_and_2();
    let pod = fx.load_guide_pod("pod-case-06.yaml");
    let add = fx.run_binary(&shim, "ADD", &shim_conf, &pod);
    if !add.status.success() {
        let logs = docker(&["logs", &name]);
        panic!(
            "shim ADD failed: {add}\n--- daemon logs ---\n{}{}",
            String::from_utf8_lossy(&logs.stdout),
            String::from_utf8_lossy(&logs.stderr)
        );
    }
    assert_attached(
        &fx,
        &pod,
        &[
            MASTER,
            macvlan_conf_1("macvlan1", "default/macvlan-conf-1"),
            macvlan_conf_2("net2"),
        ],
    );
    fx.run_binary(&shim, "DEL", &shim_conf, &pod).assert_ok();
    fx.assert_nothing_left(&[]);

    docker_ok(&["stop", "--time=10", &name]);
    assert!(!generated.exists(), "00-multus.conf left after stop");
    drop(running);
}
