//! JSON text exactly as Go's `encoding/json` writes it, for bytes that must
//! match upstream's: the network-status annotation (`json.MarshalIndent`
//! with 4 spaces) and generated config files (`json.Marshal`).
//!
//! What differs from `serde_json`:
//! - `<`, `>`, `&`, U+2028 and U+2029 in strings become `\u003c`, `\u003e`,
//!   `\u0026`, `\u2028`, `\u2029`; control characters `\b`, `\f`, `\n`,
//!   `\r`, `\t` or `\u00XX` (lowercase hex);
//! - [`write_value`] writes object keys sorted (Go sorts the keys of a map; a
//!   decoded config is a map there), [`write_struct`] keeps a struct's order;
//! - [`write_value`] prints numbers as the Go `float64` they decoded to:
//!   `1500`, `2.5`, `1e+21`, `1e-7`, and integers beyond 2^53 lose their low
//!   digits as they do upstream;
//! - [`write_indented`] writes empty objects and arrays as `{}` and `[]` and
//!   separates keys from values with `": "`.

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

/// Appends `value` as Go's `json.Marshal` writes an `interface{}` holding it
/// (objects with sorted keys).
pub fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(out, n),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => write_sorted_object(out, map),
    }
}

/// `value` as Go's `json.Marshal` of an `interface{}` writes it.
pub fn to_string(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_sorted_object(out: &mut String, map: &Map<String, Value>) {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    // Byte-wise, as Go's sort of map keys.
    entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    out.push('{');
    for (i, (key, item)) in entries.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_value(out, item);
    }
    out.push('}');
}

/// Appends `fields` in the order given (a Go struct's field order), each
/// value already rendered.
pub fn write_struct(out: &mut String, fields: &[(&str, String)]) {
    out.push('{');
    for (i, (key, rendered)) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        out.push_str(rendered);
    }
    out.push('}');
}

/// A JSON string with Go's escaping (HTML-safe).
pub fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `s` as a Go-escaped JSON string.
pub fn string(s: &str) -> String {
    let mut out = String::new();
    write_string(&mut out, s);
    out
}

/// Appends a number as Go writes the `float64` it decodes to.
pub fn write_number(out: &mut String, n: &Number) {
    match n.as_f64() {
        Some(f) => out.push_str(&go_float(f)),
        // Unreachable without serde_json's arbitrary_precision; keep the text.
        None => {
            let _ = write!(out, "{n}");
        }
    }
}

/// A finite `float64` as Go's `encoding/json` prints it: the shortest digits
/// that read back to the same value, in plain notation for magnitudes in
/// [1e-6, 1e21) and otherwise as `d.ddde±dd` (exponent at least two digits,
/// except that a negative one loses its leading zero: `1e-7`).
pub fn go_float(f: f64) -> String {
    if f == 0.0 {
        return if f.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        // Rust's Display is the shortest round-trip form, never exponential.
        return format!("{f}");
    }
    // `{:e}` is the shortest round-trip form too: `1.5e-7`, `1e21`.
    let text = format!("{f:e}");
    let Some((mantissa, exp)) = text.split_once('e') else {
        return text;
    };
    match exp.strip_prefix('-') {
        Some(digits) => format!("{mantissa}e-{digits}"),
        None if exp.len() < 2 => format!("{mantissa}e+0{exp}"),
        None => format!("{mantissa}e+{exp}"),
    }
}

const INDENT: &str = "    ";

/// Appends `value`, indented as Go does, starting at nesting `depth`.
pub fn write_indented(out: &mut String, value: &Value, depth: usize) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => write_string(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_indented(out, item, depth + 1);
            }
            newline(out, depth);
            out.push(']');
        }
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Object(map) => {
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                newline(out, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                write_indented(out, item, depth + 1);
            }
            newline(out, depth);
            out.push('}');
        }
    }
}

fn newline(out: &mut String, depth: usize) {
    out.push('\n');
    for _ in 0..depth {
        out.push_str(INDENT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn render(v: &Value) -> String {
        let mut s = String::new();
        write_indented(&mut s, v, 0);
        s
    }

    #[test]
    fn indents_like_marshal_indent() {
        let v =
            json!({"name": "a", "ips": ["1", "2"], "dns": {}, "e": [], "n": {"k": 1}, "b": true});
        assert_eq!(
            render(&v),
            "{\n    \"name\": \"a\",\n    \"ips\": [\n        \"1\",\n        \"2\"\n    ],\n    \
             \"dns\": {},\n    \"e\": [],\n    \"n\": {\n        \"k\": 1\n    },\n    \"b\": true\n}"
        );
    }

    #[test]
    fn escapes_like_go() {
        let mut s = String::new();
        write_string(
            &mut s,
            "<a&b>\"\\\u{08}\u{0C}\n\r\t\u{01}\u{1f}\u{7f}é\u{2028}\u{2029}😀",
        );
        assert_eq!(
            s,
            "\"\\u003ca\\u0026b\\u003e\\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\u{7f}é\\u2028\\u2029😀\""
        );
    }

    #[test]
    fn parses_back_with_serde() {
        let v = json!({"a<b": ["x&y", {"z": "\u{2028}\u{1}"}], "n": null});
        let text = render(&v);
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), v);
    }

    #[test]
    fn floats_as_go() {
        let cases = [
            (1500.0, "1500"),
            (2.5, "2.5"),
            (-3.0, "-3"),
            (0.1, "0.1"),
            (1e20, "100000000000000000000"),
            (1e21, "1e+21"),
            (1.5e300, "1.5e+300"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-10, "1.25e-10"),
            (-0.0, "-0"),
            (0.0, "0"),
            (12345678901234567890.0, "12345678901234567000"),
        ];
        for (f, want) in cases {
            assert_eq!(go_float(f), want, "{f}");
        }
    }

    #[test]
    fn values_compact_sorted_html_escaped() {
        let v: Value = serde_json::from_str(
            r#"{"b":1,"a":{"z":[{"y":1.0,"x":2e3}],"c":null},"<":"x&y","big":9007199254740993}"#,
        )
        .unwrap();
        assert_eq!(
            to_string(&v),
            r#"{"\u003c":"x\u0026y","a":{"c":null,"z":[{"x":2000,"y":1}]},"b":1,"big":9007199254740992}"#
        );
        assert_eq!(to_string(&json!([])), "[]");
        assert_eq!(to_string(&json!({})), "{}");
    }
}
