//! Network operations: `ADD`/`CHECK`/`DEL` of lists and single configs,
//! `STATUS`, `GC`, validation and version negotiation (libcni's `CNIConfig`).

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use multus_types::{CniResult, CniVersion, NetConf, NetConfList};
use serde_json::Value;

use crate::cache::{CacheEntry, ResultCache};
use crate::exec::{Command, PluginEnv, PluginExec};
use crate::request::{GcAttachment, RuntimeConf, gc_request, plugin_request, status_request};
use crate::validate::{validate_container_id, validate_ifname, validate_network_name};
use crate::version::{PluginInfo, negotiate, offered_versions};
use crate::{Error, find_in_path};

/// Runs CNI networks: where plugins live, where results are cached, how
/// plugins are executed. The Rust counterpart of libcni's `CNIConfig`.
///
/// All operations are `async` and take `&self`, so one `CniConfig` can serve
/// many attachments; they need a tokio runtime with IO and time enabled
/// (a current-thread runtime is enough).
///
/// ```no_run
/// use multus_delegate::{CniConfig, RuntimeConf};
/// use multus_types::NetConfList;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let cni = CniConfig::new(["/opt/cni/bin"])
///     .with_cache_dir("/var/lib/cni")
///     .with_timeout(Some(std::time::Duration::from_secs(60)));
/// let list = NetConfList::from_bytes(&std::fs::read("/etc/cni/net.d/10-blue.conflist")?)?;
/// let rt = RuntimeConf::new("c0ffee", "/run/netns/demo", "eth0");
/// let result = cni.add_network_list(&list, &rt).await?;
/// println!("{}", result.to_json_string()?);
/// cni.check_network_list(&list, &rt).await?;
/// cni.del_network_list(&list, &rt).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct CniConfig {
    bin_dirs: Vec<PathBuf>,
    cache: ResultCache,
    exec: PluginExec,
}

/// What the operations need to know about a list or a single config.
struct Network<'a> {
    name: &'a str,
    version_str: &'a str,
    version: CniVersion,
    plugins: &'a [NetConf],
    disable_check: bool,
    /// A configuration list (libcni's `*NetworkList` calls), not a single
    /// plugin config.
    is_list: bool,
}

impl<'a> Network<'a> {
    fn list(list: &'a NetConfList) -> Result<Self, Error> {
        Ok(Self {
            name: list.name(),
            version_str: list.cni_version_str(),
            version: list.cni_version()?,
            plugins: list.plugins(),
            disable_check: list.disable_check(),
            is_list: true,
        })
    }

    fn single(conf: &'a NetConf) -> Result<Self, Error> {
        Ok(Self {
            name: conf.name(),
            version_str: conf.cni_version_str(),
            version: conf.cni_version()?,
            plugins: std::slice::from_ref(conf),
            disable_check: false,
            is_list: false,
        })
    }

    /// The error of `plugin` as the operation returns it: libcni wraps it
    /// (`plugin type="x" name="n" failed (add): ...`) for a list only;
    /// `AddNetwork`/`CheckNetwork`/`DelNetwork` return the plugin's error as is.
    fn plugin_failed(&self, plugin: &NetConf, command: Command) -> impl FnOnce(Error) -> Error {
        let wrap = self.is_list.then(|| (plugin.plugin_type(), self.name));
        move |e| match wrap {
            Some((plugin_type, network)) => e.in_plugin(plugin_type, network, command),
            None => e,
        }
    }
}

impl CniConfig {
    /// Plugins are looked up in `bin_dirs`, in order; results are cached in
    /// [`DEFAULT_CACHE_DIR`](crate::DEFAULT_CACHE_DIR); no timeout.
    pub fn new<I, P>(bin_dirs: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<PathBuf>,
    {
        Self {
            bin_dirs: bin_dirs.into_iter().map(Into::into).collect(),
            cache: ResultCache::default(),
            exec: PluginExec::new(),
        }
    }

    /// Plugin directories from a `CNI_PATH`-style string (`:`-separated;
    /// empty entries skipped).
    pub fn from_cni_path(cni_path: &str) -> Self {
        Self::new(cni_path.split(':').filter(|d| !d.is_empty()))
    }

    /// Caches results in `dir` (files go to `<dir>/results/`).
    #[must_use]
    pub fn with_cache_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.cache = ResultCache::new(dir);
        self
    }

    /// Kills each plugin invocation that runs longer than `timeout`.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.exec = self.exec.with_timeout(timeout);
        self
    }

    /// Replaces the way plugins are executed (timeout, stderr forwarding).
    #[must_use]
    pub fn with_exec(mut self, exec: PluginExec) -> Self {
        self.exec = exec;
        self
    }

    /// The plugin directories, in search order.
    pub fn bin_dirs(&self) -> &[PathBuf] {
        &self.bin_dirs
    }

    /// The result cache.
    pub fn cache(&self) -> &ResultCache {
        &self.cache
    }

    /// How plugins are executed.
    pub fn exec(&self) -> &PluginExec {
        &self.exec
    }

    /// The binary of plugin `plugin_type` (see [`find_in_path`]).
    ///
    /// # Errors
    /// [`Error::InvalidPluginName`] / [`Error::PluginNotFound`].
    pub fn find_plugin(&self, plugin_type: &str) -> Result<PathBuf, Error> {
        find_in_path(plugin_type, &self.bin_dirs)
    }

    /// `ADD` of a configuration list: validates the container id, network
    /// name and interface name like libcni, runs the plugins in order, each
    /// with the previous one's result as `prevResult`, and caches the final
    /// result. The first failure stops the chain: nothing is undone here,
    /// the caller must `DEL` (as the spec requires after a failed `ADD`).
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for bad runtime arguments, otherwise an
    /// [`Error::PluginStep`] naming the plugin that failed; an
    /// [`Error::Context`] when the result cannot be cached.
    pub async fn add_network_list(
        &self,
        list: &NetConfList,
        rt: &RuntimeConf,
    ) -> Result<CniResult, Error> {
        self.add(Network::list(list)?, list.to_string().into_bytes(), rt)
            .await
    }

    /// `CHECK` of a configuration list: each plugin in order, with the cached
    /// `ADD` result (converted to the list's version) as `prevResult`. A
    /// list with `disableCheck` succeeds without running anything.
    ///
    /// # Errors
    /// [`Error::UnsupportedCommand`] before 0.4.0; [`Error::Context`] when
    /// the cache cannot be read; [`Error::PluginStep`] for the first failing plugin.
    pub async fn check_network_list(
        &self,
        list: &NetConfList,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        self.check(Network::list(list)?, rt).await
    }

    /// `DEL` of a configuration list: the plugins in reverse order, each
    /// with the cached `ADD` result as `prevResult` (0.4.0+; a cache that
    /// cannot be read is removed and `DEL` goes on without it), then the
    /// cache entry is removed. Succeeds again when repeated, as long as the
    /// plugins do (they must tolerate missing resources).
    ///
    /// # Errors
    /// [`Error::PluginStep`] for the first failing plugin (the cache entry is kept).
    pub async fn del_network_list(
        &self,
        list: &NetConfList,
        rt: &RuntimeConf,
    ) -> Result<(), Error> {
        self.del(Network::list(list)?, rt).await
    }

    /// `ADD` of a single plugin config (the pre-1.0 `.conf` form), cached
    /// under the config's `name` like libcni's `AddNetwork`.
    ///
    /// # Errors
    /// As [`add_network_list`](Self::add_network_list), except that the
    /// plugin's error is returned as is, not wrapped in [`Error::PluginStep`]
    /// (as libcni's `AddNetwork` does).
    pub async fn add_network(&self, conf: &NetConf, rt: &RuntimeConf) -> Result<CniResult, Error> {
        self.add(Network::single(conf)?, conf.to_string().into_bytes(), rt)
            .await
    }

    /// `CHECK` of a single plugin config.
    ///
    /// # Errors
    /// As [`check_network_list`](Self::check_network_list); the plugin's
    /// error is not wrapped in [`Error::PluginStep`].
    pub async fn check_network(&self, conf: &NetConf, rt: &RuntimeConf) -> Result<(), Error> {
        self.check(Network::single(conf)?, rt).await
    }

    /// `DEL` of a single plugin config.
    ///
    /// # Errors
    /// As [`del_network_list`](Self::del_network_list); the plugin's
    /// error is not wrapped in [`Error::PluginStep`].
    pub async fn del_network(&self, conf: &NetConf, rt: &RuntimeConf) -> Result<(), Error> {
        self.del(Network::single(conf)?, rt).await
    }

    /// `STATUS` of a configuration list (1.1.0): each plugin in order, the
    /// first failure returned (codes 50/51 come from the plugin). Lists older
    /// than 1.1.0 succeed without running anything.
    ///
    /// # Errors
    /// [`Error::PluginStep`] for the first plugin that is not ready.
    pub async fn status_network_list(&self, list: &NetConfList) -> Result<(), Error> {
        let net = Network::list(list)?;
        if !net.version.supports_status_gc() {
            return Ok(());
        }
        let env = PluginEnv::without_attachment(Command::Status, &self.bin_dirs);
        for plugin in net.plugins {
            let request = status_request(plugin, net.name, net.version_str);
            self.run_plugin(plugin, &request, &env)
                .await
                .map_err(|e| e.in_plugin(plugin.plugin_type(), net.name, Command::Status))?;
        }
        Ok(())
    }

    /// `GC` of a configuration list (libcni's `GCNetworkList`): first a full
    /// `DEL` of every cached attachment of this network that is not in
    /// `valid` (all of them when `valid` is `None`), with its cached
    /// arguments; then, for 1.1.0+, `GC` to every plugin with the valid
    /// attachments. Errors do not stop the work; all are returned. A list
    /// with `disableGC` does nothing.
    ///
    /// # Errors
    /// The failures, one [`Error::Context`]/[`Error::PluginStep`] each
    /// ([`Error::Multiple`] when several).
    pub async fn gc_network_list(
        &self,
        list: &NetConfList,
        valid: Option<&[GcAttachment]>,
    ) -> Result<(), Error> {
        if list.disable_gc() {
            return Ok(());
        }
        let net = Network::list(list)?;
        let mut errors = Vec::new();
        let keep: Option<HashSet<(&str, &str)>> = valid.map(|v| {
            v.iter()
                .map(|a| (a.container_id.as_str(), a.ifname.as_str()))
                .collect()
        });
        match self.cache.attachments(None) {
            Ok(cached) => {
                for entry in cached.iter().filter(|e| e.network_name == net.name) {
                    let key = (entry.container_id.as_str(), entry.ifname.as_str());
                    if keep.as_ref().is_some_and(|k| k.contains(&key)) {
                        continue;
                    }
                    if let Err(e) = self.del_network_list(list, &entry.runtime_conf()).await {
                        errors.push(e.context(format!(
                            "failed to delete stale attachment {} {}",
                            entry.container_id, entry.ifname
                        )));
                    }
                }
            }
            Err(e) => errors.push(e),
        }
        if net.version.supports_status_gc() {
            let env = PluginEnv::without_attachment(Command::Gc, &self.bin_dirs);
            for plugin in net.plugins {
                let request = gc_request(plugin, net.name, net.version_str, valid);
                if let Err(e) = self.run_plugin(plugin, &request, &env).await {
                    errors.push(e.in_plugin(plugin.plugin_type(), net.name, Command::Gc));
                }
            }
        }
        Error::collect(errors).map_or(Ok(()), Err)
    }

    /// libcni's `ValidateNetworkList`: every plugin exists and its `VERSION`
    /// reply lists the list's version. Returns the capabilities the plugins
    /// enable, sorted.
    ///
    /// # Errors
    /// Every failing plugin ([`Error::Multiple`] when several).
    pub async fn validate_network_list(&self, list: &NetConfList) -> Result<Vec<String>, Error> {
        let net = Network::list(list)?;
        let version = if net.version_str.is_empty() {
            CniVersion::V0_1_0.as_str()
        } else {
            net.version_str
        };
        let mut errors = Vec::new();
        let mut caps = std::collections::BTreeSet::new();
        for plugin in net.plugins {
            match self.version_info(plugin.plugin_type()).await {
                Ok(info) if info.supports(version) => {}
                Ok(info) => errors.push(Error::VersionUnsupported {
                    plugin_type: plugin.plugin_type().to_owned(),
                    version: version.to_owned(),
                    supported: info.supported_versions,
                }),
                Err(e) => errors.push(e),
            }
            caps.extend(
                plugin
                    .capabilities()
                    .into_iter()
                    .filter(|(_, on)| *on)
                    .map(|(c, _)| c),
            );
        }
        match Error::collect(errors) {
            Some(e) => Err(e),
            None => Ok(caps.into_iter().collect()),
        }
    }

    /// The `VERSION` reply of plugin `plugin_type`.
    ///
    /// # Errors
    /// Lookup and execution errors, [`Error::VersionInfo`] for a bad reply.
    pub async fn version_info(&self, plugin_type: &str) -> Result<PluginInfo, Error> {
        let path = self.find_plugin(plugin_type)?;
        self.exec.version_info(&path).await
    }

    /// The highest version the list offers (`cniVersion` ∪ `cniVersions`)
    /// that every one of its plugins supports, asking each plugin type once.
    /// Use [`list_with_version`](crate::list_with_version) to run the list at it.
    ///
    /// # Errors
    /// [`Error::NoCommonVersion`] naming what each plugin supports, or the
    /// error of a plugin whose `VERSION` failed.
    pub async fn negotiate_version(&self, list: &NetConfList) -> Result<CniVersion, Error> {
        let mut seen = HashSet::new();
        let mut infos = Vec::new();
        let mut described = Vec::new();
        for plugin in list.plugins() {
            let plugin_type = plugin.plugin_type();
            if !seen.insert(plugin_type) {
                continue;
            }
            let info = self
                .version_info(plugin_type)
                .await
                .map_err(|e| e.in_plugin(plugin_type, list.name(), Command::Version))?;
            described.push((plugin_type.to_owned(), info.supported_versions.clone()));
            infos.push(info);
        }
        negotiate(list, &infos).ok_or_else(|| Error::NoCommonVersion {
            network: list.name().to_owned(),
            offered: offered_versions(list)
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect(),
            plugins: described,
        })
    }

    /// The cached `ADD` result of an attachment of `list`, converted to the
    /// list's version (libcni's `GetNetworkListCachedResult`).
    ///
    /// # Errors
    /// See [`ResultCache::read_result`].
    pub fn cached_result(
        &self,
        list: &NetConfList,
        rt: &RuntimeConf,
    ) -> Result<Option<CniResult>, Error> {
        self.cache.read_result(
            list.name(),
            &rt.container_id,
            &rt.ifname,
            list.cni_version()?,
        )
    }

    /// The cache entry of an attachment: the config bytes and the arguments
    /// it was added with (libcni's `GetNetworkListCachedConfig`).
    ///
    /// # Errors
    /// See [`ResultCache::read_entry`].
    pub fn cached_entry(
        &self,
        network: &str,
        rt: &RuntimeConf,
    ) -> Result<Option<CacheEntry>, Error> {
        self.cache.read_entry(network, &rt.container_id, &rt.ifname)
    }

    /// Every cached attachment, optionally of one container only
    /// (libcni's `GetCachedAttachments`).
    ///
    /// # Errors
    /// See [`ResultCache::attachments`].
    pub fn cached_attachments(&self, container_id: Option<&str>) -> Result<Vec<CacheEntry>, Error> {
        self.cache.attachments(container_id)
    }

    async fn add(
        &self,
        net: Network<'_>,
        config: Vec<u8>,
        rt: &RuntimeConf,
    ) -> Result<CniResult, Error> {
        validate_container_id(&rt.container_id)?;
        validate_network_name(net.name)?;
        validate_ifname(&rt.ifname)?;
        // Every binary is found before the first plugin runs: a list whose
        // third plugin is missing must not leave the first two's interface and
        // IP allocation behind (libcni finds them one by one and does).
        let paths = self.find_plugins(&net, Command::Add)?;
        let env = PluginEnv::new(Command::Add, rt, &self.bin_dirs);
        let mut prev: Option<CniResult> = None;
        for (plugin, path) in net.plugins.iter().zip(&paths) {
            let result = self
                .add_one(&net, plugin, path, prev.as_ref(), rt, &env)
                .await
                .map_err(net.plugin_failed(plugin, Command::Add))?;
            prev = Some(result);
        }
        let result = prev.ok_or_else(|| {
            Error::Types(multus_types::Error::InvalidConfig(format!(
                "network {:?}: no plugins in list",
                net.name
            )))
        })?;
        let entry = CacheEntry::new(net.name, rt, config, &result)?;
        self.cache.write(&entry).map_err(|e| {
            e.context(format!(
                "failed to set network {:?} cached result",
                net.name
            ))
        })?;
        Ok(result)
    }

    async fn add_one(
        &self,
        net: &Network<'_>,
        plugin: &NetConf,
        path: &Path,
        prev: Option<&CniResult>,
        rt: &RuntimeConf,
        env: &PluginEnv,
    ) -> Result<CniResult, Error> {
        let prev = prev.map(CniResult::to_value).transpose()?;
        let request = plugin_request(plugin, net.name, net.version_str, prev, rt);
        self.exec
            .run_with_result(path, request.to_string().as_bytes(), env, net.version)
            .await
    }

    /// The binary of every plugin of `net`, in order; the first one missing
    /// is the error, wrapped as that plugin's failure of `command`.
    fn find_plugins(&self, net: &Network<'_>, command: Command) -> Result<Vec<PathBuf>, Error> {
        net.plugins
            .iter()
            .map(|plugin| {
                self.find_plugin(plugin.plugin_type())
                    .map_err(net.plugin_failed(plugin, command))
            })
            .collect()
    }

    /// Whether every plugin binary of `conf` (a single config or a whole
    /// list) is in the bin directories.
    ///
    /// # Errors
    /// The first plugin that is missing, as [`add_network_list`](Self::add_network_list)
    /// would report it.
    pub fn check_plugins(&self, conf: &multus_types::DelegateConf) -> Result<(), Error> {
        let net = match conf {
            multus_types::DelegateConf::Single(conf) => Network::single(conf)?,
            multus_types::DelegateConf::List(list) => Network::list(list)?,
        };
        self.find_plugins(&net, Command::Add).map(drop)
    }

    async fn check(&self, net: Network<'_>, rt: &RuntimeConf) -> Result<(), Error> {
        if !net.version.supports_check() {
            return Err(Error::UnsupportedCommand {
                version: net.version_str.to_owned(),
                command: Command::Check,
            });
        }
        if net.disable_check {
            return Ok(());
        }
        let cached = self
            .cache
            .read_result(net.name, &rt.container_id, &rt.ifname, net.version)
            .map_err(|e| {
                e.context(format!(
                    "failed to get network {:?} cached result",
                    net.name
                ))
            })?;
        let prev = cached.as_ref().map(CniResult::to_value).transpose()?;
        let env = PluginEnv::new(Command::Check, rt, &self.bin_dirs);
        for plugin in net.plugins {
            let request = plugin_request(plugin, net.name, net.version_str, prev.clone(), rt);
            self.run_plugin(plugin, &request, &env)
                .await
                .map_err(net.plugin_failed(plugin, Command::Check))?;
        }
        Ok(())
    }

    async fn del(&self, net: Network<'_>, rt: &RuntimeConf) -> Result<(), Error> {
        let (name, cid, ifname) = (net.name, rt.container_id.as_str(), rt.ifname.as_str());
        let cached = if net.version.supports_check() {
            match self.cache.read_result(name, cid, ifname, net.version) {
                Ok(cached) => cached,
                Err(_) => {
                    // libcni: a cache it cannot use is dropped, DEL goes on.
                    let _ = self.cache.remove(name, cid, ifname);
                    None
                }
            }
        } else {
            None
        };
        let prev = cached.as_ref().map(CniResult::to_value).transpose()?;
        let env = PluginEnv::new(Command::Del, rt, &self.bin_dirs);
        // A plugin that cannot be found is skipped, not the end of the DEL:
        // stopping there (as libcni does) would leave every plugin before it,
        // the IPAM allocation among them, in place for good. The first one
        // missing is still the error, after the others were deleted.
        let mut missing = None;
        for plugin in net.plugins.iter().rev() {
            let path = match self.find_plugin(plugin.plugin_type()) {
                Ok(path) => path,
                Err(e @ Error::PluginNotFound { .. }) => {
                    missing.get_or_insert_with(|| net.plugin_failed(plugin, Command::Del)(e));
                    continue;
                }
                Err(e) => return Err(net.plugin_failed(plugin, Command::Del)(e)),
            };
            let request = plugin_request(plugin, name, net.version_str, prev.clone(), rt);
            self.exec
                .run(&path, request.to_string().as_bytes(), &env)
                .await
                .map(drop)
                .map_err(net.plugin_failed(plugin, Command::Del))?;
        }
        if let Some(e) = missing {
            return Err(e);
        }
        // As libcni: forget the attachment, whatever the version.
        let _ = self.cache.remove(name, cid, ifname);
        Ok(())
    }

    async fn run_plugin(
        &self,
        plugin: &NetConf,
        request: &Value,
        env: &PluginEnv,
    ) -> Result<(), Error> {
        let path = self.find_plugin(plugin.plugin_type())?;
        self.exec
            .run(&path, request.to_string().as_bytes(), env)
            .await
            .map(drop)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn assert_send<T: Send>(_: &T) {}

    #[test]
    fn futures_are_send() {
        let cni = CniConfig::new(["/nonexistent"]);
        let list = NetConfList::from_bytes(
            br#"{"name":"n","cniVersion":"1.0.0","plugins":[{"type":"x"}]}"#,
        )
        .unwrap();
        let rt = RuntimeConf::new("c", "/run/netns/x", "eth0");
        assert_send(&cni.add_network_list(&list, &rt));
        assert_send(&cni.del_network_list(&list, &rt));
        assert_send(&cni.gc_network_list(&list, None));
        assert_send(&cni.negotiate_version(&list));
    }

    #[test]
    fn cni_path_split() {
        let cni = CniConfig::from_cni_path("/a::/b:");
        assert_eq!(cni.bin_dirs(), [PathBuf::from("/a"), PathBuf::from("/b")]);
    }
}
