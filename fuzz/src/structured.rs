//! JSON-aware mutations: when the input is JSON, edit one node of the
//! document and write it back, so the result is still JSON and the mutation
//! reaches the parsers' checks instead of the JSON syntax error.

use serde_json::{Map, Value};

use crate::rng::Rng;

/// Scalars that sit on the edges of what the parsers accept.
fn scalar(rng: &mut Rng, tokens: &[&[u8]]) -> Value {
    match rng.below(12) {
        0 => Value::Null,
        1 => Value::Bool(rng.one_in(2)),
        2 => Value::from(0),
        3 => Value::from(-1),
        4 => Value::from(u64::MAX),
        5 => Value::from(i64::MIN),
        6 => serde_json::Number::from_f64(1.5e300).map_or(Value::Null, Value::Number),
        7 => Value::from(""),
        8 => Value::from("x".repeat(1 + rng.below(300))),
        9 => Value::from(1_u64 << (rng.below(40) + 1)),
        // A dictionary token as a string (quoted tokens lose their quotes).
        _ => Value::from(token_text(rng, tokens)),
    }
}

fn token_text(rng: &mut Rng, tokens: &[&[u8]]) -> String {
    let Some(t) = rng.pick(tokens) else {
        return String::new();
    };
    let t = String::from_utf8_lossy(t);
    t.strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .unwrap_or(&t)
        .to_owned()
}

/// Keys from the dictionary: quoted tokens like `"cniVersion"`.
fn key(rng: &mut Rng, tokens: &[&[u8]]) -> String {
    let keys: Vec<&[u8]> = tokens
        .iter()
        .copied()
        .filter(|t| t.len() > 2 && t.starts_with(b"\"") && t.ends_with(b"\""))
        .collect();
    match rng.pick(&keys) {
        Some(k) => String::from_utf8_lossy(&k[1..k.len() - 1]).into_owned(),
        None => "x".to_owned(),
    }
}

fn count(v: &Value) -> usize {
    1 + match v {
        Value::Array(a) => a.iter().map(count).sum(),
        Value::Object(o) => o.values().map(count).sum(),
        _ => 0,
    }
}

/// Calls `f` on the `n`th node in pre-order; false when there is none.
fn with_node(v: &mut Value, n: &mut usize, f: &mut dyn FnMut(&mut Value)) -> bool {
    if *n == 0 {
        f(v);
        return true;
    }
    *n -= 1;
    match v {
        Value::Array(a) => a.iter_mut().any(|c| with_node(c, n, f)),
        Value::Object(o) => o.values_mut().any(|c| with_node(c, n, f)),
        _ => false,
    }
}

fn random_node(rng: &mut Rng, v: &Value) -> Value {
    let mut n = rng.below(count(v));
    let mut v = v.clone();
    let mut found = Value::Null;
    with_node(&mut v, &mut n, &mut |node| found = node.take());
    found
}

/// Edits one node of `input` if it is JSON; false (input untouched) if not.
pub fn mutate_json(rng: &mut Rng, input: &mut Vec<u8>, other: &[u8], tokens: &[&[u8]]) -> bool {
    let Ok(mut doc) = serde_json::from_slice::<Value>(input) else {
        return false;
    };
    let donor = serde_json::from_slice::<Value>(other).ok();
    let mut n = rng.below(count(&doc));
    let op = rng.below(8);
    // Decided up front: the closure below cannot borrow `rng` twice.
    let (s1, s2, k) = (
        scalar(rng, tokens),
        rng.next_u64() as usize,
        key(rng, tokens),
    );
    let graft = donor.as_ref().map(|d| random_node(rng, d));
    with_node(&mut doc, &mut n, &mut |node| match op {
        // Replace with an edge scalar.
        0 => *node = s1.clone(),
        // Replace with a node of another corpus entry.
        1 => *node = graft.clone().unwrap_or(Value::Null),
        // Objects: drop a key, add a dictionary key, or change a key's case.
        2 => {
            if let Value::Object(o) = node {
                let picked = (!o.is_empty())
                    .then(|| o.keys().nth(s2 / 3 % o.len()).cloned())
                    .flatten();
                if let (Some(key), 0) = (&picked, s2 % 3) {
                    o.shift_remove(key);
                } else if let (Some(key), 1) = (&picked, s2 % 3) {
                    if let Some(value) = o.shift_remove(key) {
                        o.insert(flip_case(key), value);
                    }
                } else {
                    o.insert(k.clone(), s1.clone());
                }
            } else {
                *node = s1.clone();
            }
        }
        // Arrays: drop, duplicate or empty.
        3 => {
            if let Value::Array(a) = node {
                match (a.is_empty(), s2 % 3) {
                    (true, _) => a.push(s1.clone()),
                    (false, 0) => {
                        a.remove(s2 / 3 % a.len());
                    }
                    (false, 1) => {
                        let dup = a[s2 / 3 % a.len()].clone();
                        a.push(dup);
                    }
                    (false, _) => a.clear(),
                }
            } else {
                *node = Value::Array(vec![node.take()]);
            }
        }
        // Wrap in an object under a dictionary key.
        4 => {
            let mut o = Map::new();
            o.insert(k.clone(), node.take());
            *node = Value::Object(o);
        }
        // Strings: a dictionary token appended, or the case flipped.
        5 => match node {
            Value::String(s) if s2 % 2 == 0 => s.push_str(&token_text_fixed(&s1)),
            Value::String(s) => *s = flip_case(s),
            _ => *node = s1.clone(),
        },
        // A number as a string, a string as a number.
        6 => {
            let swapped = match &*node {
                Value::Number(x) => Value::String(x.to_string()),
                Value::String(s) => s
                    .parse::<serde_json::Number>()
                    .map_or(Value::Null, Value::Number),
                other => Value::String(other.to_string()),
            };
            *node = swapped;
        }
        // Empty container of the other kind.
        _ => {
            let emptied = match &*node {
                Value::Array(_) => Value::Object(Map::new()),
                _ => Value::Array(Vec::new()),
            };
            *node = emptied;
        }
    });
    let written = if s2 % 4 == 0 {
        serde_json::to_vec_pretty(&doc)
    } else {
        serde_json::to_vec(&doc)
    };
    match written {
        Ok(bytes) => {
            *input = bytes;
            true
        }
        Err(_) => false,
    }
}

fn token_text_fixed(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn flip_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_uppercase() {
                c.to_lowercase().next().unwrap_or(c)
            } else {
                c.to_uppercase().next().unwrap_or(c)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_stays_json_and_changes() {
        let tokens: Vec<&[u8]> = vec![b"\"cniVersion\"", b"\"1.0.0\""];
        let mut rng = Rng::new(9);
        let mut changed = 0;
        for _ in 0..200 {
            let mut input = br#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}"#.to_vec();
            assert!(mutate_json(
                &mut rng,
                &mut input,
                br#"{"a":[1,2]}"#,
                &tokens
            ));
            serde_json::from_slice::<Value>(&input).unwrap();
            changed += usize::from(
                input != br#"{"cniVersion":"1.0.0","ips":[{"address":"10.0.0.2/24"}]}"#,
            );
        }
        assert!(changed > 150, "{changed}");
    }

    #[test]
    fn non_json_is_left_alone() {
        let mut input = b"a,b@c".to_vec();
        assert!(!mutate_json(&mut Rng::new(1), &mut input, b"", &[]));
        assert_eq!(input, b"a,b@c");
    }
}
