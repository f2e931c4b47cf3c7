//! The authorization response at the redirect URI
//! ([RFC 6749 §4.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2)):
//! its query, parsed and checked against the flow's `state` before anything
//! else. Only a response whose `state` matches belongs to the flow and may
//! end it; anything else (no `state`, another `state`, a parameter given
//! twice) is refused and the flow keeps waiting
//! ([§10.12](https://www.rfc-editor.org/rfc/rfc6749#section-10.12)).

/// A response that belongs to this flow.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Callback {
    /// `code` (and the issuer's `iss`, [RFC 9207](https://www.rfc-editor.org/rfc/rfc9207)).
    Code {
        /// The authorization code (a secret: not in `Debug`).
        code: String,
        /// `iss`, if sent.
        iss: Option<String>,
    },
    /// `error` ([§4.1.2.1](https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2.1)).
    Error {
        /// The issuer's error code, as sent.
        error: String,
        /// `error_description`, as sent (the issuer's words, not ours).
        description: Option<String>,
        /// `iss`, if sent.
        iss: Option<String>,
    },
    /// Neither `code` nor `error` (or an empty one).
    Incomplete,
}

impl std::fmt::Debug for Callback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Callback::Code { iss, .. } => f
                .debug_struct("Code")
                .field("code", &"[redacted]")
                .field("iss", iss)
                .finish(),
            Callback::Error {
                error,
                description,
                iss,
            } => f
                .debug_struct("Error")
                .field("error", error)
                .field("description", description)
                .field("iss", iss)
                .finish(),
            Callback::Incomplete => f.write_str("Incomplete"),
        }
    }
}

/// Why a request to the redirect URI is not this flow's response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NotThisFlow {
    /// `state` is missing or not the one sent.
    State,
    /// A parameter appears more than once (§3.1: "MUST NOT be included
    /// more than once"), so which one counts would be a guess.
    Repeated(String),
}

/// Parses the query of a request to the redirect URI, for the flow that
/// sent `expected_state`. Never panics; accepts only the exact `state`.
pub(crate) fn parse_callback(
    query: Option<&str>,
    expected_state: &str,
) -> Result<Callback, NotThisFlow> {
    let mut state = None;
    let mut code = None;
    let mut error = None;
    let mut description = None;
    let mut iss = None;
    for (key, value) in url::form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        let slot = match key.as_ref() {
            "state" => &mut state,
            "code" => &mut code,
            "error" => &mut error,
            "error_description" => &mut description,
            "iss" => &mut iss,
            _ => continue,
        };
        if slot.replace(value.into_owned()).is_some() {
            return Err(NotThisFlow::Repeated(key.into_owned()));
        }
    }
    let state_ok = state
        .as_deref()
        .is_some_and(|s| !expected_state.is_empty() && constant_time_eq(s, expected_state));
    if !state_ok {
        return Err(NotThisFlow::State);
    }
    Ok(match (error.filter(|e| !e.is_empty()), code) {
        (Some(error), _) => Callback::Error {
            error,
            description,
            iss,
        },
        (None, Some(code)) if !code.is_empty() => Callback::Code { code, iss },
        _ => Callback::Incomplete,
    })
}

fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const STATE: &str = "s7Qn0p-xyz_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

    #[test]
    fn a_matching_state_with_a_code_is_this_flows() {
        let q = format!("code=abc&state={STATE}&iss=http%3A%2F%2F127.0.0.1%3A4810");
        assert_eq!(
            parse_callback(Some(&q), STATE),
            Ok(Callback::Code {
                code: "abc".into(),
                iss: Some("http://127.0.0.1:4810".into())
            })
        );
    }

    #[test]
    fn an_error_counts_only_with_the_state() {
        let q = "error=access_denied&error_description=Go+away";
        assert_eq!(parse_callback(Some(q), STATE), Err(NotThisFlow::State));
        let q = format!("{q}&state=other");
        assert_eq!(parse_callback(Some(&q), STATE), Err(NotThisFlow::State));
        let q = format!("error=access_denied&error_description=Go+away&state={STATE}");
        assert_eq!(
            parse_callback(Some(&q), STATE),
            Ok(Callback::Error {
                error: "access_denied".into(),
                description: Some("Go away".into()),
                iss: None
            })
        );
    }

    #[test]
    fn missing_wrong_repeated_and_empty() {
        assert_eq!(parse_callback(None, STATE), Err(NotThisFlow::State));
        assert_eq!(
            parse_callback(Some("code=x"), STATE),
            Err(NotThisFlow::State)
        );
        assert_eq!(
            parse_callback(Some(&format!("code=x&state={STATE}x")), STATE),
            Err(NotThisFlow::State)
        );
        assert_eq!(
            parse_callback(Some("code=x&state="), ""),
            Err(NotThisFlow::State),
            "an empty expected state matches nothing"
        );
        assert_eq!(
            parse_callback(Some(&format!("state={STATE}&state={STATE}&code=x")), STATE),
            Err(NotThisFlow::Repeated("state".into()))
        );
        assert_eq!(
            parse_callback(Some(&format!("state={STATE}&code=x&code=y")), STATE),
            Err(NotThisFlow::Repeated("code".into()))
        );
        assert_eq!(
            parse_callback(Some(&format!("state={STATE}&code=")), STATE),
            Ok(Callback::Incomplete)
        );
        assert!(!format!(
            "{:?}",
            parse_callback(Some(&format!("state={STATE}&code=secret-code")), STATE)
        )
        .contains("secret-code"));
    }

    /// The value of `state` in `query` if it appears exactly once, decoded.
    fn only_state(query: &str) -> Option<String> {
        let mut states =
            url::form_urlencoded::parse(query.as_bytes()).filter(|(k, _)| k == "state");
        let first = states.next()?.1.into_owned();
        states.next().is_none().then_some(first)
    }

    /// Whether one of the callback's parameters appears more than once.
    fn repeats(query: &str) -> bool {
        ["state", "code", "error", "error_description", "iss"]
            .iter()
            .any(|k| {
                url::form_urlencoded::parse(query.as_bytes())
                    .filter(|(key, _)| key == k)
                    .count()
                    > 1
            })
    }

    fn pair() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            Just("state".to_owned()),
            Just("code".to_owned()),
            Just("error".to_owned()),
            Just("error_description".to_owned()),
            Just("iss".to_owned()),
            "[a-z_%=&+]{0,8}",
        ];
        let value = prop_oneof![
            Just(STATE.to_owned()),
            Just(STATE[..STATE.len() - 1].to_owned()),
            Just(format!("{STATE}x")),
            ".{0,12}",
            "[%0-9A-Fa-f+&=]{0,12}",
        ];
        (key, value).prop_map(|(k, v)| format!("{k}={v}"))
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        /// Any query at all: no panic, and accepted only with exactly one
        /// `state` equal to the expected one.
        #[test]
        fn arbitrary_queries_never_pass_a_wrong_state(query in ".{0,200}", expected in prop_oneof![Just(STATE.to_owned()), ".{0,16}"]) {
            if parse_callback(Some(&query), &expected).is_ok() {
                prop_assert_eq!(only_state(&query), Some(expected));
            }
        }

        /// Queries built from the callback's own parameters, mixed with
        /// near-miss states, repeats and escapes.
        #[test]
        fn structured_queries_never_pass_a_wrong_state(pairs in prop::collection::vec(pair(), 0..8)) {
            let query = pairs.join("&");
            match parse_callback(Some(&query), STATE) {
                Ok(cb) => {
                    prop_assert_eq!(only_state(&query), Some(STATE.to_owned()));
                    if let Callback::Code { code, .. } = &cb {
                        prop_assert!(!code.is_empty());
                    }
                }
                // Refused: the state was wrong, or a parameter repeated.
                Err(_) => prop_assert!(only_state(&query).as_deref() != Some(STATE) || repeats(&query)),
            }
        }
    }
}
