//! JSON text exactly as Go's `json.MarshalIndent(v, "", "    ")` writes it.
//!
//! Go escapes `<`, `>`, `&`, U+2028 and U+2029 as `\u003c`, `\u003e`,
//! `\u0026`, `\u2028`, `\u2029`; control characters as `\b`, `\f`, `\n`,
//! `\r`, `\t` or `\u00XX` (lowercase hex); empty objects and arrays stay
//! `{}` and `[]`; key/value separator `": "`.

use std::fmt::Write as _;

use serde_json::Value;

const INDENT: &str = "    ";

/// Appends `value`, indented as Go does, starting at nesting `depth`.
pub(crate) fn write_indented(out: &mut String, value: &Value, depth: usize) {
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

/// A JSON string with Go's escaping (HTML-safe).
pub(crate) fn write_string(out: &mut String, s: &str) {
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
}
