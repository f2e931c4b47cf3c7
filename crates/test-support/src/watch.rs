//! Waiting on a `tokio::sync::watch` channel (a session's state, live pages)
//! for a value a test expects.

use std::fmt::Debug;
use std::time::Duration;

use tokio::sync::watch;

/// Waits until the channel holds a value that satisfies `pred` and returns
/// it; panics naming `what` and the last value after `timeout`.
pub async fn wait_for_value<T: Clone + Debug>(
    rx: &mut watch::Receiver<T>,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&T) -> bool,
) -> T {
    let found = tokio::time::timeout(timeout, async {
        loop {
            {
                let value = rx.borrow_and_update();
                if pred(&value) {
                    return value.clone();
                }
            }
            rx.changed().await.expect("the sender is alive");
        }
    })
    .await;
    match found {
        Ok(value) => value,
        Err(_) => panic!("{what}: not within {timeout:?}; last: {:?}", *rx.borrow()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn returns_the_first_value_that_matches() {
        let (tx, mut rx) = watch::channel(0u32);
        tokio::spawn(async move {
            for n in 1..=5 {
                tx.send(n).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            tokio::time::sleep(Duration::from_secs(5)).await;
        });
        let got = wait_for_value(&mut rx, "three", Duration::from_secs(5), |n| *n >= 3).await;
        assert!(got >= 3);
    }

    #[tokio::test]
    #[should_panic(expected = "never: not within")]
    async fn panics_with_the_last_value_after_the_timeout() {
        let (_tx, mut rx) = watch::channel(0u32);
        wait_for_value(&mut rx, "never", Duration::from_millis(50), |n| *n > 0).await;
    }
}
