//! Steps many tests share, done the way a person does them.

use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::Locator;

use crate::{App, UI_TIMEOUT};

impl App {
    /// Clicks "Sign in", fills the issuer's form in the "Sign in" window that
    /// opens, submits it, and switches back to the main window. Returns the
    /// main window's handle. Does not wait for the signed-in screen.
    pub async fn sign_in_with(&mut self, email: &str, password: &str) {
        self.visible("#sign-in")
            .await
            .click()
            .await
            .expect("click Sign in");
        let main = self.switch_to_new_window().await;
        let form_email = self.visible("input[name=email]").await;
        self.screenshot("sign-in-window").await;
        form_email.send_keys(email).await.expect("type email");
        let form_password = self.visible("input[name=password]").await;
        form_password
            .send_keys(password)
            .await
            .expect("type password");
        self.client
            .find(Locator::Css("#sign-in-form button[type=submit]"))
            .await
            .expect("submit button")
            .click()
            .await
            .expect("submit");
        // The window closes itself once the redirect is caught; switch back.
        self.client
            .switch_to_window(main)
            .await
            .expect("back to main");
    }

    /// Signs in and waits for the signed-in screen.
    pub async fn sign_in(&mut self, email: &str, password: &str) {
        self.sign_in_with(email, password).await;
        self.visible("#screen-signed-in").await;
    }

    /// Types a message into the composer and presses Enter.
    pub async fn send(&self, text: &str) {
        let input = self.visible("#composer-input").await;
        input.send_keys(text).await.expect("type message");
        input
            .send_keys(&char::from(Key::Enter).to_string())
            .await
            .expect("Enter");
    }

    /// Number of open windows.
    pub async fn window_count(&self) -> usize {
        self.client.windows().await.expect("windows").len()
    }

    /// Whether the element exists and is displayed right now.
    pub async fn is_visible(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Waits until the element is gone or hidden.
    pub async fn hidden(&self, css: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while self.is_visible(css).await {
            assert!(
                Instant::now() < deadline,
                "{css} still shown after {within:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Texts of the message bodies shown, top to bottom.
    pub async fn message_bodies(&self) -> Vec<String> {
        let value = self
            .client
            .execute(
                "return [...document.querySelectorAll('#messages li.message .message-body')].map(e => e.textContent);",
                vec![],
            )
            .await
            .expect("read messages");
        serde_json::from_value(value).unwrap_or_default()
    }

    /// Waits until some message body equals `text`.
    pub async fn message_shown(&self, text: &str) {
        let deadline = Instant::now() + UI_TIMEOUT;
        while !self.message_bodies().await.iter().any(|b| b == text) {
            assert!(Instant::now() < deadline, "message {text:?} never shown");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
