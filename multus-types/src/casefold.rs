//! Case-insensitive decoding of JSON objects into structs.
//!
//! Go's `encoding/json`, which upstream Multus uses for its config file and the
//! networks annotation, matches object keys to struct fields ignoring case
//! (`readinessIndicatorFile` fills `readinessindicatorfile`), ignores unknown
//! keys, and lets the last of duplicate keys win. Users rely on that, so the
//! structs that mirror those Go types decode the same way here. Serialisation
//! is unaffected: it always writes the canonical key names.

use serde::de::{self, Deserialize, Deserializer, Visitor};
use serde_json::{Map, Value};

/// Rewrites the keys of `map` to the canonical spelling among `fields`,
/// dropping keys that match no field; later duplicates replace earlier ones.
pub fn fold_keys(map: Map<String, Value>, fields: &[&str]) -> Map<String, Value> {
    let mut out = Map::with_capacity(map.len());
    for (key, value) in map {
        let canonical = fields
            .iter()
            .find(|f| **f == key)
            .or_else(|| fields.iter().find(|f| eq_fold(f, &key)));
        if let Some(name) = canonical {
            out.insert((*name).to_owned(), value);
        }
    }
    out
}

/// Go's key folding: ASCII case plus the two non-ASCII letters that fold onto
/// ASCII ones (KELVIN SIGN to `k`, LONG S to `s`).
fn eq_fold(a: &str, b: &str) -> bool {
    let fold = |c: char| match c {
        '\u{212A}' => 'k',
        '\u{017F}' => 's',
        c => c.to_ascii_lowercase(),
    };
    a.chars().map(fold).eq(b.chars().map(fold))
}

/// The field names (after `rename`) a derived `Deserialize` expects, found by
/// running it against a deserializer that only records them.
pub fn field_names<T>(
    run: impl FnOnce(FieldNames) -> Result<T, FieldNamesDone>,
) -> &'static [&'static str] {
    match run(FieldNames) {
        Err(FieldNamesDone(fields)) => fields,
        Ok(_) => &[],
    }
}

/// A deserializer that answers any request by reporting the struct's field names.
#[derive(Debug)]
pub struct FieldNames;

/// The "error" that carries the recorded field names out.
#[derive(Debug)]
pub struct FieldNamesDone(&'static [&'static str]);

impl std::fmt::Display for FieldNamesDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("field names recorded")
    }
}

impl std::error::Error for FieldNamesDone {}

impl de::Error for FieldNamesDone {
    fn custom<T: std::fmt::Display>(_: T) -> Self {
        FieldNamesDone(&[])
    }
}

impl<'de> Deserializer<'de> for FieldNames {
    type Error = FieldNamesDone;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
        Err(FieldNamesDone(&[]))
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _: &'static str,
        fields: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, Self::Error> {
        Err(FieldNamesDone(fields))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

/// Implements `Serialize` and a case-insensitive `Deserialize` for a struct
/// that derives both with `#[serde(remote = "Self")]`.
///
/// Decoding errors name the key path (`logOptions.maxAge: invalid type ...`).
///
/// Beware: `remote = "Self"` also leaves serde's case-*sensitive* code as the
/// inherent functions `Type::deserialize` / `Type::serialize`. Decode through
/// `serde_json::from_*` or `<Type as Deserialize>::deserialize`, never
/// `Type::deserialize(..)` directly.
#[macro_export]
macro_rules! case_insensitive_serde {
    ($ty:ty) => {
        impl<'de> ::serde::Deserialize<'de> for $ty {
            fn deserialize<D: ::serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                static FIELDS: ::std::sync::OnceLock<&'static [&'static str]> =
                    ::std::sync::OnceLock::new();
                let fields =
                    FIELDS.get_or_init(|| $crate::casefold::field_names(|de| <$ty>::deserialize(de)));
                let map = <::serde_json::Map<String, ::serde_json::Value> as ::serde::Deserialize>::deserialize(d)?;
                let value = ::serde_json::Value::Object($crate::casefold::fold_keys(map, fields));
                $crate::casefold::decode_tracked(value, |de| <$ty>::deserialize(de))
                    .map_err(<D::Error as ::serde::de::Error>::custom)
            }
        }

        impl ::serde::Serialize for $ty {
            fn serialize<S: ::serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                <$ty>::serialize(self, s)
            }
        }
    };
}

/// A `deserialize_with` function decoding JSON `null` as the field's
/// `Default`, as Go's `encoding/json` does: Go leaves a field at its zero
/// value (empty string, empty slice, `false`, `0`) when the JSON says `null`,
/// where serde would refuse `null` for a non-`Option` field.
///
/// Pair it with `#[serde(default)]` so an absent key is the default too.
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct Conf {
///     #[serde(default, deserialize_with = "multus_types::casefold::null_as_default")]
///     ips: Vec<String>,
/// }
///
/// let c: Conf = serde_json::from_str(r#"{"ips": null}"#).unwrap();
/// assert!(c.ips.is_empty());
/// let c: Conf = serde_json::from_str(r#"{"ips": ["10.1.1.5/24"]}"#).unwrap();
/// assert_eq!(c.ips, ["10.1.1.5/24"]);
/// ```
///
/// # Errors
/// Whatever `T`'s own decoding refuses (a value of the wrong type).
pub fn null_as_default<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// Runs a derived deserializer over `value`, prefixing errors with the key path.
pub fn decode_tracked<T>(
    value: Value,
    run: impl FnOnce(serde_path_to_error::Deserializer<'_, '_, Value>) -> Result<T, serde_json::Error>,
) -> Result<T, String> {
    let mut track = serde_path_to_error::Track::new();
    let result = run(serde_path_to_error::Deserializer::new(value, &mut track));
    result.map_err(|e| {
        let path = track.path().to_string();
        if path == "." {
            e.to_string()
        } else {
            format!("{path}: {e}")
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, serde::Serialize, PartialEq)]
    #[serde(remote = "Self")]
    struct Sample {
        #[serde(rename = "binDir", default)]
        bin_dir: String,
        #[serde(rename = "readinessindicatorfile", default)]
        readiness: String,
        #[serde(default)]
        flag: bool,
    }
    crate::case_insensitive_serde!(Sample);

    #[test]
    fn records_field_names() {
        let names = field_names(Sample::deserialize);
        assert_eq!(names, ["binDir", "readinessindicatorfile", "flag"]);
    }

    #[test]
    fn keys_match_ignoring_case_and_last_wins() {
        let s: Sample = serde_json::from_str(
            r#"{"BINDIR":"/a","readinessIndicatorFile":"/r","bindir":"/b","other":1}"#,
        )
        .unwrap();
        assert_eq!(s.bin_dir, "/b");
        assert_eq!(s.readiness, "/r");
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"binDir":"/b","readinessindicatorfile":"/r","flag":false}"#
        );
    }

    #[test]
    fn kelvin_sign_folds_like_go() {
        assert!(eq_fold("kind", "\u{212A}IND"));
        assert!(!eq_fold("kind", "kin"));
    }

    #[test]
    fn type_errors_name_the_key() {
        let err = serde_json::from_str::<Sample>(r#"{"Flag":"yes"}"#).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("flag: invalid type: string \"yes\", expected a boolean"),
            "{err}"
        );
    }
}
