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
fn several_audiences_need_azp() {
    let c = with(claims(), "aud", json!([CLIENT, "another-client"]));
    assert_eq!(check(&sign(&c)), Err(IdTokenError::WrongAuthorizedParty));
    let ok = with(c, "azp", json!(CLIENT));
    assert!(check(&sign(&ok)).is_ok());
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
