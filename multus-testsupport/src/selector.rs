//! Label and field selectors of LIST requests (`labelSelector=`, `fieldSelector=`).

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Term {
    Eq(String, String),
    NotEq(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A parsed selector: every term must match. The empty selector matches everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Selector {
    terms: Vec<Term>,
}

/// Splits on commas outside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .collect()
}

fn set_values(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| format!("expected a parenthesized set, got {rest:?}"))?;
    Ok(inner
        .split(',')
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

impl Selector {
    /// Parses `a=b,c!=d,e,!f,g in (x,y),h notin (z)`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        for term in split_terms(s) {
            let t = if let Some((k, v)) = term.split_once("!=") {
                Term::NotEq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = term.split_once("==") {
                Term::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = term.split_once('=') {
                Term::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, rest)) = term.split_once(" notin ") {
                Term::NotIn(k.trim().into(), set_values(rest)?)
            } else if let Some((k, rest)) = term.split_once(" in ") {
                Term::In(k.trim().into(), set_values(rest)?)
            } else if let Some(k) = term.strip_prefix('!') {
                Term::NotExists(k.trim().into())
            } else {
                Term::Exists(term.into())
            };
            let key = match &t {
                Term::Eq(k, _)
                | Term::NotEq(k, _)
                | Term::In(k, _)
                | Term::NotIn(k, _)
                | Term::Exists(k)
                | Term::NotExists(k) => k,
            };
            if key.is_empty() || key.contains(char::is_whitespace) {
                return Err(format!("invalid selector term {term:?}"));
            }
            terms.push(t);
        }
        Ok(Selector { terms })
    }

    /// The keys the terms test, in order.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.terms.iter().map(|t| match t {
            Term::Eq(k, _)
            | Term::NotEq(k, _)
            | Term::In(k, _)
            | Term::NotIn(k, _)
            | Term::Exists(k)
            | Term::NotExists(k) => k.as_str(),
        })
    }

    fn matches(&self, lookup: impl Fn(&str) -> Option<String>) -> bool {
        self.terms.iter().all(|t| match t {
            Term::Eq(k, v) => lookup(k).as_deref() == Some(v),
            Term::NotEq(k, v) => lookup(k).as_deref() != Some(v),
            Term::In(k, vs) => lookup(k).is_some_and(|x| vs.contains(&x)),
            Term::NotIn(k, vs) => lookup(k).is_none_or(|x| !vs.contains(&x)),
            Term::Exists(k) => lookup(k).is_some(),
            Term::NotExists(k) => lookup(k).is_none(),
        })
    }

    /// Matches against `metadata.labels`.
    pub fn matches_labels(&self, obj: &Value) -> bool {
        let labels = obj.get("metadata").and_then(|m| m.get("labels"));
        self.matches(|k| {
            labels
                .and_then(|l| l.get(k))
                .and_then(Value::as_str)
                .map(str::to_string)
        })
    }

    /// Matches against dotted field paths (`metadata.name`, `spec.nodeName`, `status.phase`).
    /// A missing field compares as the empty string, as the API server does.
    pub fn matches_fields(&self, obj: &Value) -> bool {
        self.matches(|path| {
            let mut cur = obj;
            for part in path.split('.') {
                match cur.get(part) {
                    Some(next) => cur = next,
                    None => return Some(String::new()),
                }
            }
            Some(match cur {
                Value::String(s) => s.clone(),
                Value::Null => String::new(),
                other => other.to_string(),
            })
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn labels() {
        let pod = json!({"metadata": {"name": "p", "labels": {"app": "web", "tier": "a"}}});
        let yes = [
            "",
            "app=web",
            "app==web",
            "app",
            "!missing",
            "tier in (a, b)",
            "app notin (db)",
            "app=web,tier!=b",
        ];
        for s in yes {
            assert!(Selector::parse(s).unwrap().matches_labels(&pod), "{s}");
        }
        for s in [
            "app=db",
            "missing",
            "!app",
            "tier in (b)",
            "app notin (web,db)",
        ] {
            assert!(!Selector::parse(s).unwrap().matches_labels(&pod), "{s}");
        }
        assert!(Selector::parse("a b").is_err());
        assert!(Selector::parse("a in b").is_err());
    }

    #[test]
    fn fields() {
        let pod = json!({"metadata": {"name": "p", "namespace": "ns"}, "spec": {"nodeName": "n1"}});
        let sel = Selector::parse("spec.nodeName=n1,metadata.namespace!=default").unwrap();
        assert!(sel.matches_fields(&pod));
        assert!(
            !Selector::parse("spec.nodeName=n2")
                .unwrap()
                .matches_fields(&pod)
        );
        assert!(
            Selector::parse("status.phase=")
                .unwrap()
                .matches_fields(&pod)
        );
    }
}
