//! The helpers against the real servers.

use std::time::Duration;

use test_support::{demo, play_browser, TestBackends};

#[tokio::test]
async fn both_servers_start_and_convex_trusts_the_issuer() {
    let b = TestBackends::start().await.unwrap();
    let env = b.env();
    assert_eq!(env["CLERK_FRONTEND_API_URL"], b.issuer_url());
    assert_eq!(env["CLERK_OAUTH_CLIENT_ID"], "courier-desktop");
    assert_eq!(env["CONVEX_URL"], b.convex().url());
    assert!(b.issuer_url().starts_with("http://127.0.0.1:"));
    // Demo messages are seeded for the issuer convex-local trusts.
    let ada = format!("{}|{}", b.issuer_url(), demo::ADA_ID);
    assert!(!b.convex().messages_by_author(&ada).unwrap().is_empty());
    b.stop().await;
}

#[tokio::test]
async fn dev_clerk_restarts_on_the_same_port_with_the_same_issuer() {
    let mut b = TestBackends::builder()
        .with_convex(false)
        .id_token_ttl(Duration::from_secs(5))
        .start()
        .await
        .unwrap();
    let issuer = b.issuer_url();
    let port = b.clerk_port();
    b.stop_clerk().await;
    assert!(tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err());
    b.start_clerk().await.unwrap();
    assert_eq!(b.clerk().issuer_url(), issuer);
    assert_eq!(b.clerk().port(), port);
}

#[tokio::test]
async fn play_browser_reports_a_missing_form() {
    let b = TestBackends::builder()
        .with_convex(false)
        .start()
        .await
        .unwrap();
    // Not an authorize request: no sign-in form to fill.
    let url = url::Url::parse(&format!(
        "{}/.well-known/openid-configuration",
        b.issuer_url()
    ))
    .unwrap();
    let err = play_browser(&url, demo::ADA_EMAIL, demo::PASSWORD)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("sign-in-form"), "{err}");
}
