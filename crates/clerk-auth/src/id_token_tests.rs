//! Forged and malformed ID tokens, signed here with the test keys in
//! `tests/fixtures` (test-only keys, never used elsewhere).

use super::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::{json, Value};
use std::time::SystemTime;

const ISS: &str = "http://127.0.0.1:4810";
const CLIENT: &str = "courier-desktop";
const NONCE: &str = "n-0S6_WzA2Mj";
const RSA_KEY: &str = include_str!("../tests/fixtures/rsa-test-key.pem");
const RSA_OTHER: &str = include_str!("../tests/fixtures/rsa-other-key.pem");
const RSA_PUB: &str = include_str!("../tests/fixtures/rsa-test-pub.pem");
const ED_KEY: &str = include_str!("../tests/fixtures/ed25519-test-key.pem");
const JWKS: &str = include_str!("../tests/fixtures/jwks.json");

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn validator_with(algs: &[&str], leeway: u64) -> IdTokenValidator {
    let jwks: JwkSet = serde_json::from_str(JWKS).unwrap();
    let algs: Vec<String> = algs.iter().map(|s| s.to_string()).collect();
    IdTokenValidator::new(ISS, CLIENT, &algs, &jwks, Duration::from_secs(leeway)).unwrap()
}

fn validator() -> IdTokenValidator {
    validator_with(&["RS256"], 0)
}

fn claims() -> Value {
    let t = now();
    json!({
        "iss": ISS, "sub": "user_2AdaLovelace1815000000", "aud": CLIENT,
        "exp": t + 60, "iat": t, "nonce": NONCE, "jti": "j1",
        "name": "Ada Lovelace", "email": "ada@example.com",
        "picture": "http://127.0.0.1:4810/avatars/user_2AdaLovelace1815000000.svg",
    })
}

fn with(mut c: Value, key: &str, v: Value) -> Value {
    c[key] = v;
    c
}

fn without(mut c: Value, key: &str) -> Value {
    c.as_object_mut().unwrap().remove(key);
    c
}

fn sign_rsa_with(alg: Algorithm, pem: &str, kid: Option<&str>, c: &Value) -> String {
    let mut h = Header::new(alg);
    h.kid = kid.map(str::to_owned);
    encode(&h, c, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
}

fn sign(c: &Value) -> String {
    sign_rsa_with(Algorithm::RS256, RSA_KEY, Some("test-rsa"), c)
}

fn sign_ed(kid: &str, c: &Value) -> String {
    let mut h = Header::new(Algorithm::EdDSA);
    h.kid = Some(kid.to_owned());
    encode(&h, c, &EncodingKey::from_ed_pem(ED_KEY.as_bytes()).unwrap()).unwrap()
}

fn b64(v: &Value) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
}

fn check(token: &str) -> Result<IdTokenClaims, IdTokenError> {
    validator().validate(token, NonceCheck::Exact(NONCE))
}

#[test]
fn a_good_token_is_accepted_and_names_the_user() {
    let c = check(&sign(&claims())).unwrap();
    assert_eq!(c.subject, "user_2AdaLovelace1815000000");
    assert_eq!(c.issuer, ISS);
    let u = c.user();
    assert_eq!(u.name.as_deref(), Some("Ada Lovelace"));
    assert_eq!(u.email.as_deref(), Some("ada@example.com"));
    let t = c.to_token("x.y.z");
    assert_eq!(t.lifetime(), Duration::from_secs(60));
}

#[test]
fn name_falls_back_to_given_and_family_names() {
    let c = without(claims(), "name");
    let c = with(
        with(c, "given_name", json!("Grace")),
        "family_name",
        json!("Hopper"),
    );
    assert_eq!(
        check(&sign(&c)).unwrap().name.as_deref(),
        Some("Grace Hopper")
    );
}

#[test]
fn expired() {
    let t = now();
    let c = with(with(claims(), "exp", json!(t - 5)), "iat", json!(t - 65));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::Expired));
}

#[test]
fn expired_within_leeway_is_accepted_only_with_leeway() {
    let c = with(claims(), "exp", json!(now() - 5));
    let token = sign(&c);
    assert!(validator_with(&["RS256"], 30)
        .validate(&token, NonceCheck::Exact(NONCE))
        .is_ok());
    assert_eq!(check(&token), Err(IdTokenError::Expired));
}

#[test]
fn not_before_in_the_future() {
    let c = with(claims(), "nbf", json!(now() + 30));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::NotYetValid));
}

#[test]
fn wrong_issuer() {
    let c = with(claims(), "iss", json!("https://evil.example.com"));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongIssuer));
}

#[test]
fn issuer_must_match_exactly_even_the_trailing_slash() {
    let c = with(claims(), "iss", json!(format!("{ISS}/")));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongIssuer));
}

#[test]
fn wrong_audience() {
    let c = with(claims(), "aud", json!("another-client"));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongAudience));
}

#[test]
fn an_audience_list_naming_another_party_is_refused_even_with_azp() {
    // OIDC Core 3.1.3.7 item 3: other audiences are not trusted by us.
    let c = with(claims(), "aud", json!([CLIENT, "another-client"]));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongAudience));
    let with_azp = with(c, "azp", json!(CLIENT));
    assert_eq!(check(&sign(&with_azp)), Err(IdTokenError::WrongAudience));
    let c = with(claims(), "aud", json!(["another-client", CLIENT]));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongAudience));
    let c = with(claims(), "aud", json!([]));
    assert!(check(&sign(&c)).is_err());
    // Just us, as a list, is fine.
    let ok = with(claims(), "aud", json!([CLIENT]));
    assert!(check(&sign(&ok)).is_ok());
    let ok = with(with(claims(), "aud", json!([CLIENT])), "azp", json!(CLIENT));
    assert!(check(&sign(&ok)).is_ok());
}

#[test]
fn issued_in_the_future_beyond_the_leeway_is_refused() {
    let t = now();
    let c = with(with(claims(), "iat", json!(t + 120)), "exp", json!(t + 600));
    let token = sign(&c);
    assert_eq!(check(&token), Err(IdTokenError::IssuedInFuture));
    assert_eq!(
        validator_with(&["RS256"], 30).validate(&token, NonceCheck::Exact(NONCE)),
        Err(IdTokenError::IssuedInFuture)
    );
    // Within the leeway: a clock a little behind the issuer's is fine.
    let c = with(with(claims(), "iat", json!(t + 10)), "exp", json!(t + 600));
    assert!(validator_with(&["RS256"], 30)
        .validate(&sign(&c), NonceCheck::Exact(NONCE))
        .is_ok());
}

#[test]
fn azp_mismatch() {
    let c = with(claims(), "azp", json!("another-client"));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongAuthorizedParty));
}

#[test]
fn alg_none_is_refused() {
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT"})),
        b64(&claims())
    );
    assert_eq!(
        check(&token),
        Err(IdTokenError::DisallowedAlgorithm("none".into()))
    );
}

#[test]
fn hs256_signed_with_the_public_key_is_refused() {
    let mut h = Header::new(Algorithm::HS256);
    h.kid = Some("test-rsa".into());
    let token = encode(&h, &claims(), &EncodingKey::from_secret(RSA_PUB.as_bytes())).unwrap();
    assert_eq!(
        check(&token),
        Err(IdTokenError::DisallowedAlgorithm("HS256".into()))
    );
}

#[test]
fn rs384_is_not_allowed() {
    let token = sign_rsa_with(Algorithm::RS384, RSA_KEY, Some("test-rsa"), &claims());
    assert_eq!(
        check(&token),
        Err(IdTokenError::DisallowedAlgorithm("RS384".into()))
    );
}

#[test]
fn unknown_and_missing_kid() {
    let token = sign_rsa_with(Algorithm::RS256, RSA_KEY, Some("rotated-away"), &claims());
    assert_eq!(
        check(&token),
        Err(IdTokenError::UnknownKey(Some("rotated-away".into())))
    );
    let token = sign_rsa_with(Algorithm::RS256, RSA_KEY, None, &claims());
    assert_eq!(check(&token), Err(IdTokenError::UnknownKey(None)));
}

#[test]
fn signed_by_another_key_under_our_kid() {
    let token = sign_rsa_with(Algorithm::RS256, RSA_OTHER, Some("test-rsa"), &claims());
    assert_eq!(check(&token), Err(IdTokenError::BadSignature));
}

#[test]
fn tampered_payload() {
    let token = sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = with(claims(), "sub", json!("user_2GraceHopper1906000000"));
    let token = format!("{}.{}.{}", parts[0], b64(&forged), parts[2]);
    assert_eq!(check(&token), Err(IdTokenError::BadSignature));
}

#[test]
fn tampered_signature() {
    let token = sign(&claims());
    let (head, sig) = token.rsplit_once('.').unwrap();
    let mut bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sig)
        .unwrap();
    bytes[10] ^= 0x01;
    let token = format!(
        "{head}.{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    assert_eq!(check(&token), Err(IdTokenError::BadSignature));
}

#[test]
fn truncated() {
    let token = sign(&claims());
    let (head, _) = token.rsplit_once('.').unwrap();
    assert!(matches!(check(head), Err(IdTokenError::Malformed(_))));
    assert!(matches!(check(""), Err(IdTokenError::Malformed(_))));
    assert!(matches!(
        check(&format!("{token}.extra")),
        Err(IdTokenError::Malformed(_))
    ));
}

#[test]
fn bad_base64() {
    let token = sign(&claims());
    let parts: Vec<&str> = token.split('.').collect();
    assert!(matches!(
        check(&format!("{}.{}.{}", "!!!", parts[1], parts[2])),
        Err(IdTokenError::Malformed(_))
    ));
    let r = check(&format!("{}.{}.{}", parts[0], "%%%not-base64%%%", parts[2]));
    assert!(
        matches!(
            r,
            Err(IdTokenError::Malformed(_)) | Err(IdTokenError::BadSignature)
        ),
        "{r:?}"
    );
}

#[test]
fn payload_not_json() {
    let header = sign(&claims()).split('.').next().unwrap().to_owned();
    let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b"not json");
    let r = check(&format!("{header}.{payload}.c2ln"));
    assert!(
        matches!(
            r,
            Err(IdTokenError::Malformed(_)) | Err(IdTokenError::BadSignature)
        ),
        "{r:?}"
    );
}

#[test]
fn wrong_or_missing_nonce_at_sign_in() {
    assert_eq!(
        check(&sign(&with(claims(), "nonce", json!("other")))),
        Err(IdTokenError::NonceMismatch)
    );
    assert_eq!(
        check(&sign(&without(claims(), "nonce"))),
        Err(IdTokenError::NonceMismatch)
    );
}

#[test]
fn refresh_accepts_the_original_nonce_or_none() {
    let v = validator();
    assert!(v
        .validate(
            &sign(&without(claims(), "nonce")),
            NonceCheck::AbsentOr(Some(NONCE))
        )
        .is_ok());
    assert!(v
        .validate(&sign(&claims()), NonceCheck::AbsentOr(Some(NONCE)))
        .is_ok());
    assert_eq!(
        v.validate(
            &sign(&with(claims(), "nonce", json!("other"))),
            NonceCheck::AbsentOr(Some(NONCE))
        ),
        Err(IdTokenError::NonceMismatch)
    );
    assert_eq!(
        v.validate(&sign(&claims()), NonceCheck::AbsentOr(None)),
        Err(IdTokenError::NonceMismatch)
    );
}

#[test]
fn missing_sub_iat_aud_exp() {
    assert_eq!(
        check(&sign(&without(claims(), "sub"))),
        Err(IdTokenError::MissingClaim("sub".into()))
    );
    assert_eq!(
        check(&sign(&with(claims(), "sub", json!("")))).map(|_| ()),
        Err(IdTokenError::MissingClaim("sub".into()))
    );
    assert_eq!(
        check(&sign(&without(claims(), "iat"))),
        Err(IdTokenError::MissingClaim("iat".into()))
    );
    assert_eq!(
        check(&sign(&without(claims(), "aud"))),
        Err(IdTokenError::MissingClaim("aud".into()))
    );
    assert_eq!(
        check(&sign(&without(claims(), "exp"))),
        Err(IdTokenError::MissingClaim("exp".into()))
    );
}

#[test]
fn eddsa_only_when_discovery_offers_it() {
    let token = sign_ed("test-ed", &claims());
    assert_eq!(
        check(&token),
        Err(IdTokenError::DisallowedAlgorithm("EdDSA".into()))
    );
    let v = validator_with(&["RS256", "EdDSA"], 0);
    assert!(v.validate(&token, NonceCheck::Exact(NONCE)).is_ok());
    // An EdDSA header pointing at the RSA key is refused.
    let confused = sign_ed("test-rsa", &claims());
    assert!(matches!(
        v.validate(&confused, NonceCheck::Exact(NONCE)),
        Err(IdTokenError::DisallowedAlgorithm(_))
    ));
}

#[test]
fn discovery_offering_only_unsupported_algorithms_is_an_error() {
    let jwks: JwkSet = serde_json::from_str(JWKS).unwrap();
    let r = IdTokenValidator::new(
        ISS,
        CLIENT,
        &["HS256".into(), "none".into()],
        &jwks,
        Duration::ZERO,
    );
    assert!(matches!(r, Err(IdTokenError::DisallowedAlgorithm(_))));
}

/// Property tests: bounded, cheap (tokens are signed once per claim set and
/// cached; each case is one `validate` call).
mod properties {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};

    const CASES: u32 = 10_000;

    fn good_token() -> &'static str {
        static TOKEN: OnceLock<String> = OnceLock::new();
        TOKEN.get_or_init(|| {
            let t = now();
            sign(&with(
                with(claims(), "exp", json!(t + 3600)),
                "iat",
                json!(t - 10),
            ))
        })
    }

    /// One choice per claim; `expect_ok` is the oracle.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    struct Choice {
        right_key: bool,
        iss: u8,
        aud: u8,
        exp_future: bool,
        iat: u8,
        nonce: u8,
        sub: bool,
    }

    impl Choice {
        fn expect_ok(&self) -> bool {
            self.right_key
                && self.iss == 0
                && self.aud <= 1
                && self.exp_future
                && self.iat <= 1
                && self.nonce == 0
                && self.sub
        }

        fn claims(&self, t: u64) -> Value {
            let mut c = claims();
            c["iss"] = json!(
                [ISS, "https://evil.example.com", "http://127.0.0.1:4810/"][self.iss as usize]
            );
            c["aud"] = [
                json!(CLIENT),
                json!([CLIENT]),
                json!([CLIENT, "other"]),
                json!("other"),
                json!([]),
            ][self.aud as usize]
                .clone();
            c["exp"] = json!(if self.exp_future { t + 3600 } else { t - 3600 });
            c["iat"] = json!([t - 60, t, t + 3600][self.iat as usize]);
            match self.nonce {
                0 => c["nonce"] = json!(NONCE),
                1 => c["nonce"] = json!("other-nonce"),
                _ => c = without(c, "nonce"),
            }
            if !self.sub {
                c["sub"] = json!("");
            }
            c
        }

        fn token(&self) -> String {
            static CACHE: OnceLock<Mutex<HashMap<Choice, String>>> = OnceLock::new();
            let cache = CACHE.get_or_init(Default::default);
            if let Some(t) = cache.lock().unwrap().get(self) {
                return t.clone();
            }
            let c = self.claims(now());
            let pem = if self.right_key { RSA_KEY } else { RSA_OTHER };
            let token = sign_rsa_with(Algorithm::RS256, pem, Some("test-rsa"), &c);
            cache.lock().unwrap().insert(*self, token.clone());
            token
        }
    }

    fn choice() -> impl Strategy<Value = Choice> {
        (
            any::<bool>(),
            0u8..3,
            0u8..5,
            any::<bool>(),
            0u8..3,
            0u8..3,
            any::<bool>(),
        )
            .prop_map(
                |(right_key, iss, aud, exp_future, iat, nonce, sub)| Choice {
                    right_key,
                    iss,
                    aud,
                    exp_future,
                    iat,
                    nonce,
                    sub,
                },
            )
    }

    /// What can be done to a good token's text.
    #[derive(Clone, Debug)]
    enum Mutation {
        Replace(usize, char),
        Insert(usize, char),
        Delete(usize),
        Truncate(usize),
        SwapParts(usize, usize),
    }

    fn mutation() -> impl Strategy<Value = Mutation> {
        let c = prop_oneof![
            proptest::char::range('A', 'Z'),
            proptest::char::range('a', 'z'),
            proptest::char::range('0', '9'),
            Just('-'),
            Just('_'),
            Just('.'),
            Just('='),
            any::<char>(),
        ];
        prop_oneof![
            (any::<usize>(), c.clone()).prop_map(|(i, c)| Mutation::Replace(i, c)),
            (any::<usize>(), c).prop_map(|(i, c)| Mutation::Insert(i, c)),
            any::<usize>().prop_map(Mutation::Delete),
            any::<usize>().prop_map(Mutation::Truncate),
            (0usize..3, 0usize..3).prop_map(|(a, b)| Mutation::SwapParts(a, b)),
        ]
    }

    fn apply(token: &str, mutations: &[Mutation]) -> String {
        let mut chars: Vec<char> = token.chars().collect();
        for m in mutations {
            let n = chars.len().max(1);
            match *m {
                Mutation::Replace(i, c) if !chars.is_empty() => chars[i % n] = c,
                Mutation::Insert(i, c) => chars.insert(i % (chars.len() + 1), c),
                Mutation::Delete(i) if !chars.is_empty() => {
                    chars.remove(i % n);
                }
                Mutation::Truncate(i) => chars.truncate(i % n),
                Mutation::SwapParts(a, b) => {
                    let text: String = chars.iter().collect();
                    let mut parts: Vec<&str> = text.split('.').collect();
                    if a < parts.len() && b < parts.len() {
                        parts.swap(a, b);
                    }
                    chars = parts.join(".").chars().collect();
                }
                _ => {}
            }
        }
        chars.into_iter().collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

        /// Any text at all: no panic, never accepted.
        #[test]
        fn arbitrary_text_is_never_accepted(text in ".{0,400}") {
            prop_assert!(check(&text).is_err());
        }

        /// Three base64url parts of arbitrary JSON-ish bytes: never accepted.
        #[test]
        fn arbitrary_parts_are_never_accepted(
            header in prop_oneof![
                Just(json!({"alg": "RS256", "kid": "test-rsa"})),
                Just(json!({"alg": "none"})),
                Just(json!({"alg": "HS256", "kid": "test-rsa"})),
                Just(json!({"alg": "EdDSA", "kid": "test-ed"})),
                any::<String>().prop_map(|s| json!({"alg": s})),
            ],
            payload in prop::collection::vec(any::<u8>(), 0..200),
            signature in prop::collection::vec(any::<u8>(), 0..300),
        ) {
            let e = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let token = format!("{}.{}.{}", b64(&header), e.encode(&payload), e.encode(&signature));
            prop_assert!(check(&token).is_err());
            let good_payload = good_token().split('.').nth(1).unwrap();
            let token = format!("{}.{good_payload}.{}", b64(&header), e.encode(&signature));
            prop_assert!(check(&token).is_err());
        }

        /// A good token changed in any way is refused.
        #[test]
        fn mutated_tokens_are_never_accepted(mutations in prop::collection::vec(mutation(), 1..4)) {
            let good = good_token();
            let token = apply(good, &mutations);
            if token != good {
                prop_assert!(check(&token).is_err(), "accepted {:?}", mutations);
            }
        }

        /// Signed tokens with each claim right or wrong: accepted exactly
        /// when signed by the issuer's key with every claim right.
        #[test]
        fn signed_tokens_are_accepted_only_with_the_right_claims(c in choice()) {
            let result = check(&c.token());
            prop_assert_eq!(result.is_ok(), c.expect_ok(), "{:?}: {:?}", c, result);
        }
    }

    #[test]
    fn the_good_token_is_good() {
        assert!(check(good_token()).is_ok());
    }
}
