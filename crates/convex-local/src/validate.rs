//! Argument validators with Convex's messages (`ArgumentValidationError:
//! ...`), enough for `v.object`, `v.string`, `v.number`, `v.null`,
//! `v.optional` and `v.union`.

use std::fmt;

use serde_json::{Map, Value};

/// A subset of Convex's `v.*` validators.
#[derive(Clone, Debug)]
pub(crate) enum Validator {
    String,
    Number,
    Null,
    Union(Vec<Validator>),
    Optional(Box<Validator>),
    Object(Vec<(&'static str, Validator)>),
}

impl fmt::Display for Validator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Validator::String => write!(f, "v.string()"),
            Validator::Number => write!(f, "v.float64()"),
            Validator::Null => write!(f, "v.null()"),
            Validator::Optional(v) => write!(f, "v.optional({v})"),
            Validator::Union(vs) => {
                let parts: Vec<String> = vs.iter().map(ToString::to_string).collect();
                write!(f, "v.union({})", parts.join(", "))
            }
            Validator::Object(fields) => {
                let parts: Vec<String> = fields.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                write!(f, "v.object({{{}}})", parts.join(", "))
            }
        }
    }
}

impl Validator {
    /// Checks the arguments object; the error is the message Convex returns.
    pub(crate) fn check_args(&self, args: &Value) -> Result<(), String> {
        // The messages cost allocations even on success (paths, and a
        // union's alternatives that do not match): only a refusal needs one.
        if self.matches(args) {
            return Ok(());
        }
        self.check(args, "")
            .map_err(|e| format!("ArgumentValidationError: {e}"))
    }

    /// Whether `value` passes, exactly as [`Validator::check`] decides it.
    pub(crate) fn matches(&self, value: &Value) -> bool {
        match (self, value) {
            (Validator::String, Value::String(_))
            | (Validator::Number, Value::Number(_))
            | (Validator::Null, Value::Null) => true,
            (Validator::Optional(inner), v) => inner.matches(v),
            (Validator::Union(vs), v) => vs.iter().any(|x| x.matches(v)),
            (Validator::Object(fields), Value::Object(obj)) => {
                fields
                    .iter()
                    .all(|(name, v)| matches!(v, Validator::Optional(_)) || obj.contains_key(*name))
                    && obj
                        .keys()
                        .all(|key| fields.iter().any(|(name, _)| name == key))
                    && fields
                        .iter()
                        .all(|(name, v)| obj.get(*name).is_none_or(|value| v.matches(value)))
            }
            _ => false,
        }
    }

    pub(crate) fn check(&self, value: &Value, path: &str) -> Result<(), String> {
        let ok = match (self, value) {
            (Validator::String, Value::String(_)) => true,
            (Validator::Number, Value::Number(_)) => true,
            (Validator::Null, Value::Null) => true,
            (Validator::Optional(inner), v) => return inner.check(v, path),
            (Validator::Union(vs), v) => vs.iter().any(|x| x.check(v, path).is_ok()),
            (Validator::Object(fields), Value::Object(obj)) => {
                return self.check_object(fields, obj, path)
            }
            _ => false,
        };
        if ok {
            Ok(())
        } else {
            let path_line = if path.is_empty() {
                String::new()
            } else {
                format!("Path: {path}\n")
            };
            Err(format!(
                "Value does not match validator.\n{path_line}Value: {}\nValidator: {self}",
                js(value)
            ))
        }
    }

    fn check_object(
        &self,
        fields: &[(&'static str, Validator)],
        obj: &Map<String, Value>,
        path: &str,
    ) -> Result<(), String> {
        let path_line = if path.is_empty() {
            String::new()
        } else {
            format!("Path: {path}\n")
        };
        for (name, v) in fields {
            if !matches!(v, Validator::Optional(_)) && !obj.contains_key(*name) {
                return Err(format!(
                    "Object is missing the required field `{name}`. Consider wrapping the field \
                     validator in `v.optional(...)` if this is expected.\n\n{path_line}Object: {}\n\
                     Validator: {self}",
                    js(&Value::Object(obj.clone()))
                ));
            }
        }
        for key in obj.keys() {
            if !fields.iter().any(|(name, _)| name == key) {
                return Err(format!(
                    "Object contains extra field `{key}` that is not in the validator.\n\n\
                     {path_line}Object: {}\nValidator: {self}",
                    js(&Value::Object(obj.clone()))
                ));
            }
        }
        for (name, v) in fields {
            if let Some(value) = obj.get(*name) {
                v.check(value, &format!("{path}.{name}"))?;
            }
        }
        Ok(())
    }
}

/// A value printed the way Convex's messages print it (`{body: "hi"}`).
fn js(value: &Value) -> String {
    match value {
        Value::Object(map) => {
            let parts: Vec<String> = map.iter().map(|(k, v)| format!("{k}: {}", js(v))).collect();
            format!("{{{}}}", parts.join(", "))
        }
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(js).collect();
            format!("[{}]", parts.join(", "))
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn send_args() -> Validator {
        Validator::Object(vec![
            ("body", Validator::String),
            (
                "clientMessageId",
                Validator::Optional(Box::new(Validator::String)),
            ),
        ])
    }

    #[test]
    fn messages_name_the_field() {
        let v = send_args();
        assert!(v.check_args(&json!({"body": "hi"})).is_ok());
        let missing = v.check_args(&json!({})).unwrap_err();
        assert!(missing
            .starts_with("ArgumentValidationError: Object is missing the required field `body`"));
        let wrong = v.check_args(&json!({"body": 5})).unwrap_err();
        assert!(wrong.contains("Path: .body") && wrong.contains("Validator: v.string()"));
        let extra = v.check_args(&json!({"body": "x", "foo": 1})).unwrap_err();
        assert!(extra.contains("extra field `foo`"));
    }
}
