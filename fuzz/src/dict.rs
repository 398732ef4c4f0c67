//! Dictionaries: tokens the mutator inserts, per target on top of the
//! common ones. Tokens are what a parser branches on (keys, separators,
//! versions) and values at the edges of what it accepts.

/// Tokens every target's dictionary starts with: JSON structure, edge-case
/// numbers and strings, and Unicode whose case mapping changes its length
/// (the parsers fold keys case-insensitively).
#[rustfmt::skip]
pub const COMMON_TOKENS: &[&str] = &[
    "{", "}", "[", "]", "{\"", "\":", "\": ", "\",", ",", ":", "\"", "\"\"", "[]", "{}", "null",
    "true", "false", "\\", "\\\"", "\\u0000", "\\ud800", "\\udc00\\ud800", "\\u00e9", " ", "\n",
    "\t", "\r\n", "0", "-0", "-1", "1.5", "1e400", "-1e-400", "255", "256", "65535", "65536",
    "2147483647", "2147483648", "-2147483649", "4294967296", "9223372036854775807",
    "18446744073709551616", "-9223372036854775809", "0x10", "00", "é", "İ", "K", "ß", "ﬃ",
    "\u{FEFF}", "\u{10FFFF}", "🦀", "\u{0}", "\u{7f}", "\u{202e}",
];

/// The networks and default-network annotations: separators, JSON keys (also
/// in other cases), addresses and hardware addresses at the edges of validity.
#[rustfmt::skip]
pub const NETWORKS_TOKENS: &[&str] = &[
    "@", "/", ",", ", ", "@eth0", "ns1/", "macvlan-conf", "net1", "\"name\"", "\"namespace\"",
    "\"interface\"", "\"interfaceRequest\"", "\"ips\"", "\"mac\"", "\"infiniband-guid\"",
    "\"default-route\"", "\"portMappings\"", "\"bandwidth\"", "\"deviceID\"", "\"cni-args\"",
    "\"NAME\"", "\"Namespace\"", "\"hostPort\"", "\"containerPort\"", "\"protocol\"",
    "\"ingressRate\"", "\"egressBurst\"", "\"10.1.1.5/24\"", "\"10.1.1.1\"", "\"fd00::1\"",
    "\"::ffff:10.0.0.1\"", "\"fe80::1%eth0\"", "\"1.2.3.4/33\"", "\"::/129\"",
    "\"c2:b0:57:49:47:f1\"", "\"00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00:00\"",
    "\"0a-58-0a-01-01-05\"", "\"0a58.0a01.0105\"", "[\"", "\"]", "[{\"name\":\"a\"}]",
    "aaaaaaaaaaaaaaaa", "-", ".",
];

/// Multus, delegate and conflist config keys and versions.
#[rustfmt::skip]
pub const CONF_TOKENS: &[&str] = &[
    "\"cniVersion\"", "\"cniVersions\"", "\"name\"", "\"type\"", "\"plugins\"", "\"delegates\"",
    "\"clusterNetwork\"", "\"defaultNetworks\"", "\"systemNamespaces\"", "\"multusNamespace\"",
    "\"kubeconfig\"", "\"readinessindicatorfile\"", "\"logLevel\"", "\"logFile\"",
    "\"logToStderr\"", "\"logOptions\"", "\"maxSize\"", "\"maxAge\"", "\"maxBackups\"",
    "\"compress\"", "\"namespaceIsolation\"", "\"globalNamespaces\"", "\"confDir\"", "\"cniDir\"",
    "\"binDir\"", "\"retryDeleteOnError\"", "\"auxiliaryCNIChainName\"", "\"capabilities\"",
    "\"runtimeConfig\"", "\"prevResult\"", "\"disableCheck\"", "\"disableGC\"",
    "\"loadOnlyInlinedPlugins\"", "\"ipam\"", "\"dns\"", "\"args\"", "\"portMappings\"",
    "\"bandwidth\"", "\"ips\"", "\"mac\"", "\"CNIVERSION\"", "\"Type\"", "\"0.1.0\"", "\"0.2.0\"",
    "\"0.3.0\"", "\"0.3.1\"", "\"0.4.0\"", "\"1.0.0\"", "\"1.1.0\"", "\"2.0.0\"", "\"1.0\"",
    "\"v1.0.0\"", "\"1.0.0-rc1\"", "\"bridge\"", "\"macvlan\"", "\"host-local\"", "\"debug\"",
    "\"verbose\"", "\"panic\"", "\"kube-system\"", "{\"type\":\"bridge\"}",
    "[{\"type\":\"bridge\"}]",
];

/// CNI result keys of every layout, versions, addresses and prefixes.
#[rustfmt::skip]
pub const RESULT_TOKENS: &[&str] = &[
    "\"cniVersion\"", "\"0.1.0\"", "\"0.2.0\"", "\"0.3.0\"", "\"0.3.1\"", "\"0.4.0\"", "\"1.0.0\"",
    "\"1.1.0\"", "\"\"", "\"ip4\"", "\"ip6\"", "\"ip\"", "\"ips\"", "\"interfaces\"",
    "\"interface\"", "\"routes\"", "\"dns\"", "\"gateway\"", "\"address\"", "\"version\"", "\"4\"",
    "\"6\"", "\"5\"", "\"name\"", "\"mac\"", "\"mtu\"", "\"sandbox\"", "\"socketPath\"",
    "\"pciID\"", "\"dst\"", "\"gw\"", "\"advmss\"", "\"priority\"", "\"table\"", "\"scope\"",
    "\"nameservers\"", "\"domain\"", "\"search\"", "\"options\"", "\"10.1.1.5/24\"",
    "\"10.1.1.1\"", "\"0.0.0.0/0\"", "\"::/0\"", "\"fd00::5/64\"", "\"::ffff:10.1.1.5/120\"",
    "\"::ffff:10.1.1.1\"", "\"10.1.1.5/33\"", "\"fd00::5/129\"", "\"/var/run/netns/p\"",
    "\"c2:b0:57:49:47:f1\"", "-1", "2147483648", "4294967296",
];

/// network-status keys, device-info kinds and characters Go escapes.
#[rustfmt::skip]
pub const STATUS_TOKENS: &[&str] = &[
    "\"name\"", "\"interface\"", "\"ips\"", "\"mac\"", "\"mtu\"", "\"default\"", "\"dns\"",
    "\"gateway\"", "\"device-info\"", "\"type\"", "\"version\"", "\"pci\"", "\"vdpa\"",
    "\"vhost-user\"", "\"memif\"", "\"pci-address\"", "\"vhost-net\"", "\"rdma-device\"",
    "\"pf-pci-address\"", "\"representor-device\"", "\"parent-device\"", "\"driver\"", "\"mode\"",
    "\"path\"", "\"role\"", "\"socket-path\"", "\"nameservers\"", "\"domain\"", "\"search\"",
    "\"options\"", "\"10.1.1.5\"", "\"fd00::5\"", "\"<nil>\"", "\"1.1.0\"", "\"client\"",
    "\"server\"", "\"ethernet\"", "\"ip\"", "\"<\"", "\">\"", "\"&\"", "\"\\u2028\"",
    "\"\\u003c\"",
];

/// `CNI_ARGS` separators, keys and values.
#[rustfmt::skip]
pub const ARGS_TOKENS: &[&str] = &[
    ";", "=", ";=", "==", "IgnoreUnknown", "IgnoreUnknown=1", "IgnoreUnknown=true",
    "IgnoreUnknown=TRUE", "IgnoreUnknown=yes", "K8S_POD_NAMESPACE", "K8S_POD_NAME",
    "K8S_POD_INFRA_CONTAINER_ID", "K8S_POD_UID", "IP", "IP=10.1.1.5", "IP=fd00::5",
    "IP=::ffff:1.2.3.4", "IP=1.2.3", "MAC", "GATEWAY", "default", "kube-system", "ß",
];

/// Kubeconfig keys and YAML syntax (anchors, tags, documents, block scalars).
#[rustfmt::skip]
pub const KUBECONFIG_TOKENS: &[&str] = &[
    "apiVersion: v1\n", "kind: Config\n", "clusters:\n", "- name: ", "  cluster:\n",
    "    server: ", "https://10.96.0.1:443", "https://[::1]:6443",
    "    certificate-authority-data: ", "    certificate-authority: ",
    "insecure-skip-tls-verify: true", "users:\n", "  user:\n", "    token: ", "tokenFile: ",
    "client-certificate-data: ", "client-key-data: ", "exec:", "command: ", "args: ", "env: ",
    "auth-provider:", "contexts:\n", "  context:\n", "    cluster: ", "    user: ", "namespace: ",
    "current-context: ", "preferences: {}", "extensions:", "proxy-url: ", "---\n", "...\n", "&a ",
    "*a", "<<: *a", "!!binary ", "!!str ", "!!int ", "!!map ", "? ", "- ", ": ", "  ", "\n", "'",
    "\"", "|\n", ">-\n", "~", "# ", "%YAML 1.2\n", "LS0tLS1CRUdJTg==", "=", "!", "{a: 1}",
    "[a, b]", ".inf", "0o17",
];
