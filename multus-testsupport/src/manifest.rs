//! Reading manifests (multi-document YAML or JSON) and writing kubeconfigs.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

use serde_json::Value;

use crate::Error;

/// Parses manifests: one JSON object, or one or more YAML documents separated by `---`.
/// A `kind: List` document (or a top-level JSON/YAML list) contributes its items; empty
/// documents are skipped.
///
/// `origin` names the source in error messages (a file path, `"<inline>"`).
///
/// ```
/// let objs = multus_testsupport::parse_manifests(
///     "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: testns1\n---\n\
///      {\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"p\"}}\n",
///     "<inline>",
/// ).unwrap();
/// assert_eq!(objs.len(), 2);
/// assert_eq!(objs[1]["metadata"]["name"], "p");
/// ```
pub fn parse_manifests(text: &str, origin: &str) -> Result<Vec<Value>, Error> {
    let docs: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(v) => vec![v],
        Err(_) => serde_saphyr::from_multiple_with_options::<Value>(text, yaml_options()).map_err(
            |e| Error::Parse {
                origin: origin.to_string(),
                message: e.to_string(),
            },
        )?,
    };
    let mut out = Vec::new();
    for doc in docs {
        flatten(doc, &mut out);
    }
    Ok(out)
}

/// YAML 1.2 core booleans only: `name: n` or `value: on` stay strings.
pub(crate) fn yaml_options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: true }
}

/// Parses one YAML document into a JSON value.
pub(crate) fn parse_yaml(text: &str) -> Result<Value, String> {
    serde_saphyr::from_str_with_options::<Value>(text, yaml_options()).map_err(|e| e.to_string())
}

fn flatten(doc: Value, out: &mut Vec<Value>) {
    match doc {
        Value::Null => {}
        Value::Array(items) => items.into_iter().for_each(|i| flatten(i, out)),
        Value::Object(mut map)
            if map
                .get("kind")
                .and_then(Value::as_str)
                .is_some_and(|k| k == "List" || k.ends_with("List"))
                && map.get("items").is_some_and(Value::is_array) =>
        {
            if let Some(Value::Array(items)) = map.remove("items") {
                items.into_iter().for_each(|i| flatten(i, out));
            }
        }
        other => out.push(other),
    }
}

/// Reads and parses a manifest file (see [`parse_manifests`]).
pub fn read_manifests(path: impl AsRef<Path>) -> Result<Vec<Value>, Error> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_path_buf(),
        source,
    })?;
    parse_manifests(&text, &path.display().to_string())
}

/// The kubeconfig of a server at `server_url`: cluster `local`, user `multus` with a dummy
/// bearer token, context `multus-context` (the names the Multus guide uses).
///
/// ```
/// let text = multus_testsupport::kubeconfig_yaml("http://127.0.0.1:8080");
/// assert!(text.contains("server: http://127.0.0.1:8080"));
/// assert!(text.contains("current-context: multus-context"));
/// ```
pub fn kubeconfig_yaml(server_url: &str) -> String {
    format!(
        "# Kubeconfig for the multus-rs stand-in API server.\n\
         apiVersion: v1\n\
         kind: Config\n\
         clusters:\n\
         - name: local\n  \
           cluster:\n    \
             server: {server_url}\n\
         users:\n\
         - name: multus\n  \
           user:\n    \
             token: \"{STAND_IN_TOKEN}\"\n\
         contexts:\n\
         - name: multus-context\n  \
           context:\n    \
             cluster: local\n    \
             user: multus\n\
         current-context: multus-context\n"
    )
}

/// The dummy bearer token of the kubeconfigs the stand-in writes.
pub const STAND_IN_TOKEN: &str = "stand-in-token";

/// Writes [`kubeconfig_yaml`] to `path` with mode 0600, atomically (a temporary file in the same
/// directory, then a rename), so a reader never sees half a file.
pub fn write_kubeconfig_file(path: impl AsRef<Path>, server_url: &str) -> io::Result<()> {
    let path = path.as_ref();
    let file_name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "kubeconfig path has no file name",
        )
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(file_name);
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(kubeconfig_yaml(server_url).as_bytes())?;
    file.sync_all()?;
    drop(file);
    fs::rename(&tmp, path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn yaml_documents_and_lists() {
        let text = "---\napiVersion: v1\nkind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\n---\n---\nkind: Namespace\nmetadata:\n  name: n\n---\nkind: ConfigMap\nmetadata: {name: \"on\"}\ndata: {a: on, b: yes, c: true}\n";
        let objs = parse_manifests(text, "x").unwrap();
        let names: Vec<_> = objs
            .iter()
            .map(|o| {
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{objs:?}"))
            })
            .collect();
        assert_eq!(names, ["a", "b", "n", "on"]);
        assert_eq!(
            objs[3]["data"],
            serde_json::json!({"a": "on", "b": "yes", "c": true})
        );
    }

    #[test]
    fn folded_single_quoted_config_is_one_line_of_json() {
        let text = "kind: NetworkAttachmentDefinition\nmetadata:\n  name: x\nspec:\n  config: '{\n      \"type\": \"macvlan\",\n      \"mode\": \"bridge\"\n    }'\n";
        let objs = parse_manifests(text, "x").unwrap();
        let config = objs[0]["spec"]["config"].as_str().unwrap();
        let parsed: Value = serde_json::from_str(config).unwrap();
        assert_eq!(parsed["type"], "macvlan");
    }

    #[test]
    fn bad_yaml_names_the_origin() {
        let err = parse_manifests("a: [1, 2\n", "broken.yaml").unwrap_err();
        assert!(err.to_string().starts_with("broken.yaml"), "{err}");
    }

    #[test]
    fn kubeconfig_is_written_0600() {
        let dir = std::env::temp_dir().join(format!("stand-in-kc-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("kubeconfig");
        write_kubeconfig_file(&path, "http://127.0.0.1:1").unwrap();
        let meta = fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        let parsed: Value = serde_saphyr::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        assert_eq!(
            parsed["clusters"][0]["cluster"]["server"],
            "http://127.0.0.1:1"
        );
        assert_eq!(parsed["users"][0]["user"]["token"], STAND_IN_TOKEN);
        assert_eq!(parsed["contexts"][0]["context"]["user"], "multus");
        fs::remove_dir_all(&dir).unwrap();
    }
}
