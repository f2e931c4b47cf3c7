//! The real window's figures (a benchmark, not a test): with a stored
//! session, the time from launching the app to the first message shown,
//! and the resident memory of the app and its WebKit processes while it
//! shows 50 messages. Run by `scripts/bench` against the release binary
//! (`COURIER_APP_BINARY`) inside a private keychain.

use std::time::{Duration, Instant};

use e2e::{App, AppDirs, Launch};
use test_support::{demo, TestBackends};

const RUNS: usize = 3;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let backends = TestBackends::start().await.expect("servers start");
    let dirs = AppDirs::new();
    let env: Vec<(String, String)> = backends.env().into_iter().collect();
    let launch = |name| Launch {
        env: env.clone(),
        dirs: Some(&dirs),
        name,
    };

    // Sign in once and make 50 messages; the session stays in the keychain.
    let mut app = App::launch(launch("bench")).await;
    app.sign_in(demo::ADA_EMAIL, demo::PASSWORD).await;
    app.visible("#messages li.message").await;
    let have = app.message_bodies().await.len();
    for i in have..50 {
        let text = format!("bench message {i}");
        app.send(&text).await;
        app.message_shown(&text).await;
    }
    app.quit().await;

    let mut starts = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..RUNS {
        let started = Instant::now();
        let app = App::launch(launch("bench")).await;
        app.visible("#messages li.message").await;
        starts.push(started.elapsed());
        // Let the page settle, then load everything so 50 are shown.
        while app.is_visible("#load-more").await {
            // It sits below the list, often out of view: click it from the page.
            app.client
                .execute("document.querySelector('#load-more').click()", vec![])
                .await
                .expect("load more");
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        rss.push(resident_kib());
        app.quit().await;
    }
    starts.sort();
    rss.sort();
    println!("| window figure (release, stored session) | median | min | max |");
    println!("|---|---|---|---|");
    println!(
        "| launch to messages shown (incl. WebDriver session) | {:.0} ms | {:.0} ms | {:.0} ms |",
        ms(starts[RUNS / 2]),
        ms(starts[0]),
        ms(starts[RUNS - 1])
    );
    println!(
        "| RSS app + WebKit showing 50 messages | {} MiB | {} MiB | {} MiB |",
        rss[RUNS / 2] / 1024,
        rss[0] / 1024,
        rss[RUNS - 1] / 1024
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Sum of VmRSS of the app and the WebKit processes (KiB).
fn resident_kib() -> u64 {
    let binary = e2e::app_binary();
    let mut total = 0;
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let exe = std::fs::read_link(entry.path().join("exe")).unwrap_or_default();
        let name = exe.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if exe == binary
            || name.starts_with("WebKitWebProcess")
            || name.starts_with("WebKitNetworkProcess")
        {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            total += status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    total
}
