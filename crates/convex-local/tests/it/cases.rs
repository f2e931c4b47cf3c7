//! Runs the JSON cases shared with `convex/tests/cases.test.ts` (see
//! `convex/tests/cases/README.md`) over HTTP, with real signed tokens.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::{json, Value};

use crate::util::{now, sign, Backend, TestIssuer, CLIENT_ID};

fn convex_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../convex/tests")
}

struct Ctx<'a> {
    issuer: &'a TestIssuer,
    identities: &'a Value,
    saved: HashMap<String, Value>,
}

impl Ctx<'_> {
    fn token_identifier(&self, who: &str) -> String {
        let sub = self.identities[who]["subject"]
            .as_str()
            .expect("known identity");
        self.issuer.token_identifier(sub)
    }

    fn token(&self, who: &str) -> String {
        let id = &self.identities[who];
        let t = now();
        let mut claims = json!({
            "iss": self.issuer.url, "sub": id["subject"], "aud": CLIENT_ID, "iat": t, "exp": t + 600,
        });
        for (field, claim) in [
            ("name", "name"),
            ("email", "email"),
            ("emailVerified", "email_verified"),
        ] {
            if let Some(v) = id.get(field) {
                claims[claim] = v.clone();
            }
        }
        sign("rsa_a", &claims)
    }

    fn substitute(&self, v: &Value) -> Value {
        match v {
            Value::String(s) => {
                if let Some(name) = s.strip_prefix("$ref:") {
                    self.saved.get(name).cloned().unwrap_or(Value::Null)
                } else if let Some(who) = s.strip_prefix("$tokenIdentifier:") {
                    self.token_identifier(who).into()
                } else if s == "$issuer" {
                    self.issuer.url.clone().into()
                } else {
                    v.clone()
                }
            }
            Value::Array(items) => items.iter().map(|i| self.substitute(i)).collect(),
            Value::Object(map) => {
                if let Some(unit) = map.get("$repeat").and_then(Value::as_str) {
                    let times = map["times"].as_u64().unwrap() as usize;
                    let part =
                        |k: &str| map.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
                    return format!("{}{}{}", part("prefix"), unit.repeat(times), part("suffix"))
                        .into();
                }
                map.iter()
                    .map(|(k, v)| (k.clone(), self.substitute(v)))
                    .collect()
            }
            other => other.clone(),
        }
    }

    /// The same matcher as cases.test.ts's `check`.
    fn check(&self, expected: &Value, actual: Option<&Value>, path: &str) -> Result<(), String> {
        let fail = || {
            Err(format!(
                "{path}: expected {expected}, got {}",
                actual.map_or("(absent)".into(), Value::to_string)
            ))
        };
        match expected {
            Value::String(s) if s.starts_with('$') => {
                let ok = match s.as_str() {
                    "$any" => actual.is_some(),
                    "$string" => actual.is_some_and(Value::is_string),
                    "$number" => actual.is_some_and(Value::is_number),
                    "$absent" => actual.is_none(),
                    _ => actual == Some(&self.substitute(expected)),
                };
                if ok {
                    Ok(())
                } else {
                    fail()
                }
            }
            Value::Array(items) => {
                let Some(Value::Array(got)) = actual else {
                    return fail();
                };
                if got.len() != items.len() {
                    return Err(format!(
                        "{path}: expected {} items, got {}: {}",
                        items.len(),
                        got.len(),
                        Value::Array(got.clone())
                    ));
                }
                for (i, (e, a)) in items.iter().zip(got).enumerate() {
                    self.check(e, Some(a), &format!("{path}[{i}]"))?;
                }
                Ok(())
            }
            Value::Object(map) if map.contains_key("$length") => match actual {
                Some(Value::Array(got)) if Some(got.len() as u64) == map["$length"].as_u64() => {
                    Ok(())
                }
                _ => fail(),
            },
            Value::Object(map) => {
                let Some(Value::Object(got)) = actual else {
                    return fail();
                };
                for (k, e) in map {
                    self.check(e, got.get(k), &format!("{path}.{k}"))?;
                }
                Ok(())
            }
            _ => {
                if actual == Some(expected) {
                    Ok(())
                } else {
                    fail()
                }
            }
        }
    }
}

async fn run_case(issuer: &TestIssuer, identities: &Value, case: &Value) -> Result<(), String> {
    let b = Backend::start(issuer).await;
    let mut ctx = Ctx {
        issuer,
        identities,
        saved: HashMap::new(),
    };
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let (kind, path) = match (step.get("query"), step.get("mutation")) {
            (Some(p), None) => ("query", p.as_str().unwrap()),
            (None, Some(p)) => ("mutation", p.as_str().unwrap()),
            _ => return Err(format!("step {i}: needs exactly one of query/mutation")),
        };
        let label = format!("step {i} ({path})");
        let token = step["as"].as_str().map(|who| ctx.token(who));
        let args = ctx.substitute(&step["args"]);
        let (status, body) = b.call(kind, path, args, token.as_deref()).await;
        if status != 200 {
            return Err(format!("{label}: HTTP {status}: {body}"));
        }
        if let Some(err) = step.get("error") {
            if body["status"] != "error" {
                return Err(format!("{label}: expected an error, got {body}"));
            }
            if let Some(data) = err.get("data") {
                if body.get("errorData") != Some(data) {
                    return Err(format!(
                        "{label}: errorData {:?}, expected {data}",
                        body.get("errorData")
                    ));
                }
            }
            let message = body["errorMessage"].as_str().unwrap_or_default();
            for part in err
                .get("messageContains")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if !message.contains(part.as_str().unwrap()) {
                    return Err(format!("{label}: error message {message:?} lacks {part}"));
                }
            }
            continue;
        }
        if body["status"] != "success" {
            return Err(format!("{label}: {body}"));
        }
        let value = &body["value"];
        if let Some(expected) = step.get("expect") {
            ctx.check(expected, Some(value), &label)?;
        }
        for (name, at) in step
            .get("save")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let at = at.as_str().unwrap();
            let v = if at.is_empty() {
                value.clone()
            } else {
                at.split('.').fold(value.clone(), |v, k| v[k].clone())
            };
            ctx.saved.insert(name.clone(), v);
        }
    }
    Ok(())
}

#[tokio::test]
async fn shared_json_cases_pass_against_convex_local() {
    let dir = convex_dir();
    let identities: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("identities.json")).unwrap())
            .unwrap();
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("cases"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(
        files.len() > 3,
        "shared cases missing from {}",
        dir.display()
    );
    let issuer = TestIssuer::start(&["rsa_a"]).await;
    let mut failures = Vec::new();
    for file in &files {
        let case: Value = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
        if let Err(e) = run_case(&issuer, &identities, &case).await {
            failures.push(format!(
                "{} ({}): {e}",
                file.file_name().unwrap().to_string_lossy(),
                case["name"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "failing cases:\n{}",
        failures.join("\n")
    );
}
