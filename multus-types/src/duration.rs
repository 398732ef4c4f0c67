//! Durations in config files: Go's `time.ParseDuration` notation
//! (`"750ms"`, `"2.5s"`, `"1m30s"`) or a plain number of seconds.

use std::time::Duration;

use serde_json::Value;

/// Reads a duration written as a Go duration string or a number of seconds.
/// Negative, zero-length text, unknown units and values past `u64` seconds
/// are refused (the message says what was expected).
///
/// ```
/// use std::time::Duration;
/// use multus_types::parse_duration;
/// use serde_json::json;
/// assert_eq!(parse_duration(&json!("2.75s")), Ok(Duration::from_millis(2750)));
/// assert_eq!(parse_duration(&json!("1m30s")), Ok(Duration::from_secs(90)));
/// assert_eq!(parse_duration(&json!(5)), Ok(Duration::from_secs(5)));
/// assert!(parse_duration(&json!("5 parsecs")).is_err());
/// ```
pub fn parse_duration(value: &Value) -> Result<Duration, String> {
    let expected = || {
        format!("{value} is not a duration (e.g. \"5s\", \"750ms\", \"1m\") or a number of seconds")
    };
    match value {
        Value::Number(n) => n
            .as_f64()
            .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
            .ok_or_else(expected),
        Value::String(text) => parse_go(text).ok_or_else(expected),
        _ => Err(expected()),
    }
}

/// `[0-9]+(\.[0-9]*)?` followed by a unit, repeated; `"0"` alone is zero.
fn parse_go(text: &str) -> Option<Duration> {
    if text == "0" {
        return Some(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = Duration::ZERO;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, tail) = rest.split_at(number_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        if number.is_empty() || number == "." {
            return None;
        }
        let number: f64 = number.parse().ok()?;
        let unit_secs = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return None,
        };
        total = total.checked_add(Duration::try_from_secs_f64(number * unit_secs).ok()?)?;
        rest = tail;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn go_notation_and_seconds() {
        let ok = [
            (json!("0"), Duration::ZERO),
            (json!("250ms"), Duration::from_millis(250)),
            (json!("1h2m3s"), Duration::from_secs(3723)),
            (json!("1.5s"), Duration::from_millis(1500)),
            (json!("10us"), Duration::from_micros(10)),
            (json!(0.25), Duration::from_millis(250)),
        ];
        for (value, expected) in ok {
            assert_eq!(parse_duration(&value), Ok(expected), "{value}");
        }
        for bad in [
            json!(""),
            json!("5"),
            json!("s"),
            json!("-1s"),
            json!("1x"),
            json!(".s"),
            json!(-1),
            json!(true),
            json!(null),
            json!("99999999999999999999h"),
        ] {
            let e = parse_duration(&bad).unwrap_err();
            assert!(e.contains("is not a duration"), "{bad}: {e}");
        }
    }
}
