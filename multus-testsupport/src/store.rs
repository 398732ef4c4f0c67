//! The object store: API-server semantics (uid, resourceVersion, conflicts, status subresource)
//! over `serde_json::Value` objects.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::patch::{PatchKind, json_patch, merge_patch};
use crate::resources::{ApiError, POD_TYPE, ResourceType, TYPES, TypeId};
use crate::selector::Selector;

/// Which part of an object a write addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Part {
    /// The object itself.
    Main,
    /// The `status` subresource.
    Status,
}

/// Where an object lives: type, namespace (empty for cluster-scoped types), name.
type Key = (TypeId, String, String);

#[derive(Debug, Clone)]
struct Entry {
    /// Creation order, for listing events in the order they were recorded.
    seq: u64,
    obj: Value,
}

/// How many changes the watch history keeps; older ones are compacted away, and a watch from
/// before them answers 410 `Expired`, as the API server does past its watch cache.
pub(crate) const HISTORY_LIMIT: usize = 10_000;

/// What a change did to an object, as a watch event names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeKind {
    /// `ADDED`
    Added,
    /// `MODIFIED`
    Modified,
    /// `DELETED`
    Deleted,
}

/// One write, as kept for watches.
#[derive(Debug, Clone)]
pub(crate) struct Change {
    /// The resourceVersion the write produced.
    pub rv: u64,
    /// The type of the object.
    pub t: TypeId,
    /// What happened.
    pub kind: ChangeKind,
    /// The object after the write (for a deletion: its last state, with the deletion's
    /// resourceVersion).
    pub obj: Arc<Value>,
    /// The object before a modification: a watch with a selector sees an object that stops
    /// matching as deleted and one that starts matching as added.
    pub old: Option<Arc<Value>>,
}

/// The watch history: recent changes in resourceVersion order, and where it was cut.
#[derive(Debug, Default, Clone)]
struct History {
    changes: VecDeque<Change>,
    /// Every change after this resourceVersion is in `changes`.
    compacted: u64,
}

/// All objects of the stand-in API server.
#[derive(Debug, Default, Clone)]
pub(crate) struct Store {
    objects: BTreeMap<Key, Entry>,
    /// The global resourceVersion counter: bumped on every write.
    resource_version: u64,
    seq: u64,
    history: History,
    /// Tells open watches that something was written (the new resourceVersion). A dry-run
    /// scratch copy shares it; its wake-ups find nothing new in the real history.
    changes: Arc<watch::Sender<u64>>,
}

/// Mutable access to `obj.metadata`, created when missing.
fn metadata_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj.get("metadata").is_some_and(Value::is_object) {
        obj["metadata"] = json!({});
    }
    match obj.get_mut("metadata") {
        Some(Value::Object(m)) => m,
        // The branch above made it an object; this arm is never taken.
        _ => unreachable!("metadata was just made an object"),
    }
}

/// A string field of `obj.metadata`, empty when absent.
pub(crate) fn meta_str<'a>(obj: &'a Value, key: &str) -> &'a str {
    obj.get("metadata")
        .and_then(|m| m.get(key))
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// The current time as RFC 3339 in UTC, second precision, as Kubernetes writes timestamps.
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (proleptic Gregorian calendar).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3_600,
        (rem % 3_600) / 60,
        rem % 60
    )
}

fn random_u64(salt: u64) -> u64 {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(salt);
    h.finish()
}

/// A fresh random UUID (version 4 layout).
fn new_uid(salt: u64) -> String {
    let a = random_u64(salt);
    let b = random_u64(salt.wrapping_add(0x9e37_79b9_7f4a_7c15));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// The random suffix the API server appends to `generateName`.
fn name_suffix(salt: u64) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut r = random_u64(salt);
    (0..5)
        .map(|_| {
            let c = ALPHABET[(r % ALPHABET.len() as u64) as usize];
            r /= ALPHABET.len() as u64;
            char::from(c)
        })
        .collect()
}

impl Store {
    fn key(t: TypeId, ns: &str, name: &str) -> Key {
        let ns = if TYPES[t].namespaced { ns } else { "" };
        (t, ns.to_string(), name.to_string())
    }

    fn bump(&mut self) -> String {
        self.resource_version += 1;
        self.resource_version.to_string()
    }

    /// The current global resourceVersion.
    pub fn resource_version(&self) -> u64 {
        self.resource_version
    }

    /// Keeps a write for watches and wakes them.
    fn record(&mut self, t: TypeId, kind: ChangeKind, obj: &Value, old: Option<&Value>) {
        let history = &mut self.history;
        history.changes.push_back(Change {
            rv: self.resource_version,
            t,
            kind,
            obj: Arc::new(obj.clone()),
            old: old.map(|o| Arc::new(o.clone())),
        });
        while history.changes.len() > HISTORY_LIMIT {
            if let Some(dropped) = history.changes.pop_front() {
                history.compacted = dropped.rv;
            }
        }
        self.changes.send_replace(self.resource_version);
    }

    /// A receiver that changes on every write.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Forgets the watch history: a watch from any earlier resourceVersion answers 410.
    pub fn compact(&mut self) {
        self.history.changes.clear();
        self.history.compacted = self.resource_version;
    }

    /// The changes of type `t` after resourceVersion `after`, or `Err(oldest)` when the history
    /// no longer reaches back that far.
    pub fn changes_since(&self, t: TypeId, after: u64) -> Result<Vec<Change>, u64> {
        let history = &self.history;
        if after < history.compacted {
            return Err(history.compacted);
        }
        let start = history.changes.partition_point(|c| c.rv <= after);
        Ok(history
            .changes
            .iter()
            .skip(start)
            .filter(|c| c.t == t)
            .cloned()
            .collect())
    }

    /// Objects of a type in a namespace (or all namespaces) matching both selectors.
    pub fn matching(
        &self,
        t: TypeId,
        ns: Option<&str>,
        labels: &Selector,
        fields: &Selector,
    ) -> Vec<Value> {
        self.items(t, ns)
            .into_iter()
            .filter(|o| labels.matches_labels(o) && fields.matches_fields(o))
            .collect()
    }

    /// One object.
    pub fn get(&self, t: TypeId, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&Self::key(t, ns, name))
            .map(|e| e.obj.clone())
            .ok_or_else(|| ApiError::not_found(TYPES[t], name))
    }

    /// Objects of a type in a namespace (or all namespaces), in key order.
    pub fn items(&self, t: TypeId, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((tt, n, _), _)| *tt == t && ns.is_none_or(|ns| n == ns))
            .map(|(_, e)| e.obj.clone())
            .collect()
    }

    /// Objects of some types, in creation order.
    pub fn items_by_creation(&self, types: &[TypeId]) -> Vec<Value> {
        let mut entries: Vec<&Entry> = self
            .objects
            .iter()
            .filter(|((t, _, _), _)| types.contains(t))
            .map(|(_, e)| e)
            .collect();
        entries.sort_by_key(|e| e.seq);
        entries.into_iter().map(|e| e.obj.clone()).collect()
    }

    /// The list object answered to a LIST request.
    pub fn list(&self, t: TypeId, ns: Option<&str>, labels: &Selector, fields: &Selector) -> Value {
        let rt = TYPES[t];
        let items = self.matching(t, ns, labels, fields);
        json!({
            "kind": rt.list_kind(),
            "apiVersion": rt.api_version(),
            "metadata": { "resourceVersion": self.resource_version.to_string() },
            "items": items,
        })
    }

    /// Checks `apiVersion`, `kind` and namespace of a written body and fills what is missing.
    fn normalize(
        t: TypeId,
        ns: &str,
        body: &mut Value,
        url_name: Option<&str>,
    ) -> Result<(), ApiError> {
        let rt = TYPES[t];
        if !body.is_object() {
            return Err(ApiError::bad_request(format!(
                "the body of a {} must be a JSON object",
                rt.kind
            )));
        }
        let api_version = rt.api_version();
        match body.get("apiVersion").and_then(Value::as_str) {
            Some(v) if !v.is_empty() && v != api_version => {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({v}) does not match the expected API version ({api_version})"
                )));
            }
            _ => body["apiVersion"] = json!(api_version),
        }
        match body.get("kind").and_then(Value::as_str) {
            Some(k) if !k.is_empty() && k != rt.kind => {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({k}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
            _ => body["kind"] = json!(rt.kind),
        }
        if let Some(url_name) = url_name {
            let name = meta_str(body, "name");
            if name.is_empty() {
                metadata_mut(body).insert("name".into(), json!(url_name));
            } else if name != url_name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({name}) does not match the name on the URL ({url_name})"
                )));
            }
        }
        let meta = metadata_mut(body);
        if rt.namespaced {
            match meta.get("namespace").and_then(Value::as_str) {
                Some(n) if !n.is_empty() && n != ns => {
                    return Err(ApiError::bad_request(
                        "the namespace of the provided object does not match the namespace sent on the request",
                    ));
                }
                _ => {
                    meta.insert("namespace".into(), json!(ns));
                }
            }
        } else {
            meta.remove("namespace");
        }
        Ok(())
    }

    /// POST: creates an object. `from_api` applies what the API server does to a created object
    /// (fresh uid, pod status reset to `Pending`); tests inserting fixtures keep their fields.
    pub fn create(
        &mut self,
        t: TypeId,
        ns: &str,
        body: Value,
        from_api: bool,
    ) -> Result<Value, ApiError> {
        self.create_replacing(t, ns, body, from_api, None)
    }

    /// [`Store::create`]; `replaced` is the object a fixture upsert took away (then watches
    /// see a modification).
    fn create_replacing(
        &mut self,
        t: TypeId,
        ns: &str,
        mut body: Value,
        from_api: bool,
        replaced: Option<Value>,
    ) -> Result<Value, ApiError> {
        let rt = TYPES[t];
        Self::normalize(t, ns, &mut body, None)?;
        let seq = self.seq;
        let mut name = meta_str(&body, "name").to_string();
        if name.is_empty() {
            let generate = meta_str(&body, "generateName").to_string();
            if generate.is_empty() {
                return Err(ApiError::invalid(
                    rt,
                    "",
                    "metadata.name: Required value: name or generateName is required",
                ));
            }
            name = format!("{generate}{}", name_suffix(seq));
            metadata_mut(&mut body).insert("name".into(), json!(name));
        }
        let key = Self::key(t, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(ApiError::already_exists(rt, &name));
        }
        let rv = self.bump();
        let meta = metadata_mut(&mut body);
        let has_uid = meta
            .get("uid")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if from_api || !has_uid {
            meta.insert("uid".into(), json!(new_uid(seq)));
        }
        if from_api || !meta.contains_key("creationTimestamp") {
            meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        }
        meta.insert("resourceVersion".into(), json!(rv));
        if from_api && t == POD_TYPE {
            body["status"] = json!({ "phase": "Pending", "qosClass": "BestEffort" });
        }
        self.seq += 1;
        self.objects.insert(
            key,
            Entry {
                seq,
                obj: body.clone(),
            },
        );
        match &replaced {
            Some(old) => self.record(t, ChangeKind::Modified, &body, Some(old)),
            None => self.record(t, ChangeKind::Added, &body, None),
        }
        Ok(body)
    }

    /// Inserts or overwrites an object as a test fixture: keeps the given fields, fills uid and
    /// creationTimestamp when missing, bumps resourceVersion.
    pub fn upsert(&mut self, t: TypeId, mut body: Value) -> Result<Value, ApiError> {
        let ns = meta_str(&body, "namespace").to_string();
        let ns = if ns.is_empty() && TYPES[t].namespaced {
            "default".to_string()
        } else {
            ns
        };
        let name = meta_str(&body, "name").to_string();
        let old = self.objects.remove(&Self::key(t, &ns, &name));
        if let Some(old) = &old {
            let meta = metadata_mut(&mut body);
            if !meta.contains_key("uid")
                && let Some(uid) = old.obj.get("metadata").and_then(|m| m.get("uid"))
            {
                meta.insert("uid".into(), uid.clone());
            }
        }
        let key = Self::key(t, &ns, &name);
        let result =
            self.create_replacing(t, &ns, body, false, old.as_ref().map(|e| e.obj.clone()));
        // A rejected fixture leaves the old object in place.
        if result.is_err()
            && let Some(old) = old
        {
            self.objects.insert(key, old);
        }
        result
    }

    /// PUT: replaces an object or its status, with the optimistic-concurrency check.
    pub fn replace(
        &mut self,
        t: TypeId,
        ns: &str,
        name: &str,
        mut body: Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let rt = TYPES[t];
        Self::normalize(t, ns, &mut body, Some(name))?;
        let key = Self::key(t, ns, name);
        let old = match self.objects.get(&key) {
            Some(e) => e.clone(),
            None => return Err(ApiError::not_found(rt, name)),
        };
        check_preconditions(rt, name, &old.obj, &body)?;
        let mut new = body;
        if rt.status_subresource {
            match part {
                // The main resource ignores status changes.
                Part::Main => match old.obj.get("status") {
                    Some(s) => new["status"] = s.clone(),
                    None => {
                        if let Some(m) = new.as_object_mut() {
                            m.remove("status");
                        }
                    }
                },
                // The status subresource takes status and metadata (labels, annotations, as
                // the pods/status strategy does) but never the spec or owner references.
                Part::Status => {
                    match old.obj.get("spec") {
                        Some(s) => new["spec"] = s.clone(),
                        None => {
                            if let Some(m) = new.as_object_mut() {
                                m.remove("spec");
                            }
                        }
                    }
                    let old_owners = old
                        .obj
                        .get("metadata")
                        .and_then(|m| m.get("ownerReferences"))
                        .cloned();
                    let meta = metadata_mut(&mut new);
                    match old_owners {
                        Some(o) => meta.insert("ownerReferences".into(), o),
                        None => meta.remove("ownerReferences"),
                    };
                }
            }
        }
        let rv = self.bump();
        let meta = metadata_mut(&mut new);
        for kept in [
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "generateName",
        ] {
            match old.obj.get("metadata").and_then(|m| m.get(kept)) {
                Some(v) => meta.insert(kept.into(), v.clone()),
                None => meta.remove(kept),
            };
        }
        meta.insert("resourceVersion".into(), json!(rv));
        self.objects.insert(
            key,
            Entry {
                seq: old.seq,
                obj: new.clone(),
            },
        );
        self.record(t, ChangeKind::Modified, &new, Some(&old.obj));
        Ok(new)
    }

    /// PATCH: applies a patch to an object or its status.
    pub fn patch(
        &mut self,
        t: TypeId,
        ns: &str,
        name: &str,
        kind: PatchKind,
        patch: &Value,
        part: Part,
    ) -> Result<Value, ApiError> {
        let rt = TYPES[t];
        let current = match self.get(t, ns, name) {
            Ok(c) => c,
            Err(_) if kind == PatchKind::Apply && part == Part::Main => {
                let mut body = patch.clone();
                if body.is_object() {
                    metadata_mut(&mut body).insert("name".into(), json!(name));
                }
                return self.create(t, ns, body, true);
            }
            Err(e) => return Err(e),
        };
        let mut patched = current;
        match kind {
            PatchKind::Json => {
                json_patch(&mut patched, patch).map_err(|e| ApiError::invalid(rt, name, e))?
            }
            PatchKind::Merge | PatchKind::Strategic | PatchKind::Apply => {
                if !patch.is_object() {
                    return Err(ApiError::bad_request("a merge patch must be a JSON object"));
                }
                merge_patch(&mut patched, patch);
            }
        }
        self.replace(t, ns, name, patched, part)
    }

    /// DELETE: removes an object and answers it, checking `preconditions` of DeleteOptions.
    pub fn delete(
        &mut self,
        t: TypeId,
        ns: &str,
        name: &str,
        options: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let rt = TYPES[t];
        let key = Self::key(t, ns, name);
        let Some(entry) = self.objects.get(&key) else {
            return Err(ApiError::not_found(rt, name));
        };
        if let Some(pre) = options.and_then(|o| o.get("preconditions")) {
            let rv = pre.get("resourceVersion").and_then(Value::as_str);
            if rv.is_some_and(|rv| rv != meta_str(&entry.obj, "resourceVersion")) {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: ResourceVersion in precondition: {}, ResourceVersion in object meta: {}",
                        rv.unwrap_or_default(),
                        meta_str(&entry.obj, "resourceVersion")
                    ),
                ));
            }
            let uid = pre.get("uid").and_then(Value::as_str);
            if uid.is_some_and(|uid| uid != meta_str(&entry.obj, "uid")) {
                return Err(ApiError::conflict_because(
                    rt,
                    name,
                    &format!(
                        "Precondition failed: UID in precondition: {}, UID in object meta: {}",
                        uid.unwrap_or_default(),
                        meta_str(&entry.obj, "uid")
                    ),
                ));
            }
        }
        let rv = self.bump();
        let removed = match self.objects.remove(&key) {
            Some(e) => e.obj,
            None => return Err(ApiError::not_found(rt, name)),
        };
        // Watches see the last state with the deletion's resourceVersion.
        let mut last = removed.clone();
        metadata_mut(&mut last).insert("resourceVersion".into(), json!(rv));
        self.record(t, ChangeKind::Deleted, &last, None);
        Ok(removed)
    }

    /// Every object, grouped as `{"<apiVersion> <kind>": [objects...]}` for dumps.
    pub fn dump(&self) -> Value {
        let mut out = Map::new();
        for (t, rt) in TYPES.iter().enumerate() {
            let items = self.items(t, None);
            if !items.is_empty() {
                out.insert(
                    format!("{} {}", rt.api_version(), rt.kind),
                    Value::Array(items),
                );
            }
        }
        json!({ "resourceVersion": self.resource_version.to_string(), "objects": out })
    }
}

/// The optimistic-concurrency and UID checks of an update.
fn check_preconditions(
    rt: &ResourceType,
    name: &str,
    old: &Value,
    new: &Value,
) -> Result<(), ApiError> {
    let rv = meta_str(new, "resourceVersion");
    if !rv.is_empty() && rv != meta_str(old, "resourceVersion") {
        return Err(ApiError::conflict(rt, name));
    }
    let uid = meta_str(new, "uid");
    if !uid.is_empty() && uid != meta_str(old, "uid") {
        return Err(ApiError::conflict_because(
            rt,
            name,
            &format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                meta_str(old, "uid")
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::resources::NAD_TYPE;

    fn pod(name: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": {"containers": []}})
    }

    #[test]
    fn timestamp_format() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
        assert!(now.as_str() > "2024-01-01T00:00:00Z");
    }

    #[test]
    fn uids_are_distinct_uuids() {
        let a = new_uid(1);
        let b = new_uid(1);
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(&a[14..15], "4");
    }

    #[test]
    fn create_assigns_uid_and_resource_version() {
        let mut s = Store::default();
        let p = s.create(POD_TYPE, "default", pod("a"), true).unwrap();
        assert_eq!(meta_str(&p, "resourceVersion"), "1");
        assert_eq!(meta_str(&p, "namespace"), "default");
        assert!(!meta_str(&p, "uid").is_empty());
        assert_eq!(p["status"]["phase"], "Pending");
        let again = s.create(POD_TYPE, "default", pod("a"), true).unwrap_err();
        assert_eq!((again.code, again.reason), (409, "AlreadyExists"));
        let nad = s
            .create(
                NAD_TYPE,
                "ns1",
                json!({"metadata": {"generateName": "net-"}}),
                true,
            )
            .unwrap();
        assert!(meta_str(&nad, "name").starts_with("net-"));
        assert_eq!(nad["kind"], "NetworkAttachmentDefinition");
        assert_eq!(nad["apiVersion"], "k8s.cni.cncf.io/v1");
    }

    #[test]
    fn stale_replace_conflicts() {
        let mut s = Store::default();
        let p = s.create(POD_TYPE, "default", pod("a"), true).unwrap();
        let mut update = p.clone();
        update["metadata"]["annotations"] = json!({"k": "v"});
        let updated = s
            .replace(POD_TYPE, "default", "a", update.clone(), Part::Status)
            .unwrap();
        assert_eq!(meta_str(&updated, "resourceVersion"), "2");
        assert_eq!(updated["metadata"]["annotations"]["k"], "v");
        let err = s
            .replace(POD_TYPE, "default", "a", update, Part::Status)
            .unwrap_err();
        assert_eq!(err, ApiError::conflict(&crate::resources::PODS, "a"));
    }

    #[test]
    fn status_writes_keep_the_spec_and_main_writes_keep_the_status() {
        let mut s = Store::default();
        s.upsert(POD_TYPE, pod("a")).unwrap();
        let mut body = s.get(POD_TYPE, "default", "a").unwrap();
        body["spec"] = json!({"changed": true});
        body["status"] = json!({"phase": "Running"});
        let out = s
            .replace(POD_TYPE, "default", "a", body.clone(), Part::Status)
            .unwrap();
        assert_eq!(out["spec"], json!({"containers": []}));
        assert_eq!(out["status"]["phase"], "Running");
        body["metadata"]["resourceVersion"] = out["metadata"]["resourceVersion"].clone();
        body["status"] = json!({"phase": "Failed"});
        let out = s
            .replace(POD_TYPE, "default", "a", body, Part::Main)
            .unwrap();
        assert_eq!(out["spec"], json!({"changed": true}));
        assert_eq!(out["status"]["phase"], "Running");
    }

    #[test]
    fn patches_and_deletes() {
        let mut s = Store::default();
        s.upsert(POD_TYPE, pod("a")).unwrap();
        let out = s
            .patch(
                POD_TYPE,
                "default",
                "a",
                PatchKind::Merge,
                &json!({"metadata": {"annotations": {"x": "y"}}}),
                Part::Status,
            )
            .unwrap();
        assert_eq!(out["metadata"]["annotations"]["x"], "y");
        let err = s
            .patch(
                POD_TYPE,
                "default",
                "a",
                PatchKind::Merge,
                &json!({"metadata": {"resourceVersion": "1"}}),
                Part::Status,
            )
            .unwrap_err();
        assert_eq!(err.code, 409);
        let err = s
            .delete(
                POD_TYPE,
                "default",
                "a",
                Some(&json!({"preconditions": {"uid": "nope"}})),
            )
            .unwrap_err();
        assert_eq!(err.code, 409);
        let gone = s.delete(POD_TYPE, "default", "a", None).unwrap();
        assert_eq!(meta_str(&gone, "name"), "a");
        assert_eq!(s.get(POD_TYPE, "default", "a").unwrap_err().code, 404);
        assert_eq!(
            s.delete(POD_TYPE, "default", "a", None).unwrap_err().code,
            404
        );
    }

    #[test]
    fn the_watch_history_is_bounded_and_compactable() {
        let mut s = Store::default();
        s.upsert(POD_TYPE, pod("a")).unwrap();
        s.upsert(POD_TYPE, pod("a")).unwrap();
        s.upsert(NAD_TYPE, json!({"metadata": {"name": "n"}}))
            .unwrap();
        s.delete(POD_TYPE, "default", "a", None).unwrap();
        let kinds: Vec<(u64, ChangeKind)> = s
            .changes_since(POD_TYPE, 0)
            .unwrap()
            .iter()
            .map(|c| (c.rv, c.kind))
            .collect();
        assert_eq!(
            kinds,
            [
                (1, ChangeKind::Added),
                (2, ChangeKind::Modified),
                (4, ChangeKind::Deleted)
            ]
        );
        assert_eq!(s.changes_since(POD_TYPE, 2).unwrap().len(), 1);
        s.compact();
        assert_eq!(s.changes_since(POD_TYPE, 3).unwrap_err(), 4);
        assert!(s.changes_since(POD_TYPE, 4).unwrap().is_empty());
        for _ in 0..HISTORY_LIMIT + 5 {
            s.upsert(POD_TYPE, pod("b")).unwrap();
        }
        // rv 5..=10009: the oldest five are dropped, so the history starts after 9.
        let len = |after| s.changes_since(POD_TYPE, after).map(|c| c.len());
        assert_eq!(len(8), Err(9));
        assert_eq!(len(9), Ok(HISTORY_LIMIT));
    }

    #[test]
    fn wrong_kind_or_namespace_is_rejected() {
        let mut s = Store::default();
        let err = s
            .create(
                POD_TYPE,
                "default",
                json!({"kind": "Service", "metadata": {"name": "a"}}),
                true,
            )
            .unwrap_err();
        assert_eq!(err.code, 400);
        let err = s
            .create(
                POD_TYPE,
                "default",
                json!({"metadata": {"name": "a", "namespace": "other"}}),
                true,
            )
            .unwrap_err();
        assert_eq!(err.code, 400);
        let err = s
            .create(POD_TYPE, "default", json!({"metadata": {}}), true)
            .unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
    }
}
