//! One running app under WebDriver: tauri-driver, WebKitWebDriver, the app.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::build::workspace_root;
use crate::UI_TIMEOUT;

/// The folders the app writes to (config, data, cache), private to a test.
/// Keep one and launch again to see what a restart keeps.
#[derive(Debug)]
pub struct AppDirs {
    root: tempfile::TempDir,
}

impl AppDirs {
    /// Fresh, empty folders.
    pub fn new() -> Self {
        Self {
            root: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// The base of the folders.
    pub fn path(&self) -> &Path {
        self.root.path()
    }

    /// The app's own data folder (drafts, cached messages, logs).
    pub fn app_data(&self) -> PathBuf {
        self.path().join("data").join(APP_IDENTIFIER)
    }
}

/// `identifier` in tauri.conf.json: the name of the app's folders.
const APP_IDENTIFIER: &str = "dev.courier.desktop";

impl Default for AppDirs {
    fn default() -> Self {
        Self::new()
    }
}

/// What a launch puts in the app's environment.
#[derive(Debug, Default)]
pub struct Launch<'a> {
    /// Configuration variables (`CLERK_FRONTEND_API_URL`, `CONVEX_URL`, ...).
    pub env: Vec<(String, String)>,
    /// The app's folders; a fresh set when `None`.
    pub dirs: Option<&'a AppDirs>,
    /// A name for the screenshots folder, `target/e2e/<name>/`.
    pub name: &'a str,
}

/// A running app with a WebDriver session on its main window.
pub struct App {
    /// The WebDriver client.
    pub client: Client,
    driver: Child,
    shots: PathBuf,
    step: u32,
    _own_dirs: Option<AppDirs>,
}

impl App {
    /// Starts tauri-driver on free ports and opens a session on the app.
    pub async fn launch(launch: Launch<'_>) -> App {
        let display = crate::ensure_display();
        let binary = crate::app_binary();
        assert!(binary.exists(), "app binary missing: {}", binary.display());
        let own_dirs = launch.dirs.is_none().then(AppDirs::new);
        let dirs = launch.dirs.or(own_dirs.as_ref()).expect("dirs");
        let port = free_port();
        let native_port = free_port();

        let mut command = Command::new("tauri-driver");
        command
            .args(["--port", &port.to_string()])
            .args(["--native-port", &native_port.to_string()])
            .env("DISPLAY", &display)
            .env("XDG_CONFIG_HOME", dirs.path().join("config"))
            .env("XDG_DATA_HOME", dirs.path().join("data"))
            .env("XDG_CACHE_HOME", dirs.path().join("cache"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            // Its own process group, so Drop can end the app with it.
            .process_group(0);
        for (key, value) in &launch.env {
            command.env(key, value);
        }
        let driver = command
            .spawn()
            .expect("tauri-driver is installed (scripts/test installs it)");

        // Two rustls crypto providers are in the graph; pick one (the
        // WebDriver connection is plain HTTP on loopback anyway).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), "wry".into());
        caps.insert(
            "tauri:options".into(),
            serde_json::json!({ "application": binary }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let client = loop {
            // WebKitWebDriver never answers when the app dies at start (e.g.
            // the single-instance plugin refused it): bound each attempt.
            let mut builder = ClientBuilder::rustls().expect("rustls");
            builder.capabilities(caps.clone());
            let attempt = builder.connect(&url);
            match tokio::time::timeout(Duration::from_secs(15), attempt).await {
                Ok(Ok(client)) => break client,
                Ok(Err(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                Ok(Err(error)) => panic!("no WebDriver session: {error}"),
                Err(_) => panic!("no WebDriver session: the app did not start within 15 s"),
            }
        };
        let shots = workspace_root()
            .join("target")
            .join("e2e")
            .join(launch.name);
        std::fs::create_dir_all(&shots).expect("screenshot folder");
        App {
            client,
            driver,
            shots,
            step: 0,
            _own_dirs: own_dirs,
        }
    }

    /// Saves a screenshot of the current window as
    /// `target/e2e/<name>/<nn>-<what>.png`, once the DOM as it is now has
    /// been painted: WebKitGTK's screenshot is its last painted frame, so
    /// taken at once it can show the screen before the change the test just
    /// saw (the window itself is right a frame later).
    pub async fn screenshot(&mut self, what: &str) {
        self.step += 1;
        // The second frame's callback runs after the first one was painted.
        let _ = self
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];\n\
                 requestAnimationFrame(() => requestAnimationFrame(() => done()));",
                vec![],
            )
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        let path = self.shots.join(format!("{:02}-{what}.png", self.step));
        std::fs::write(&path, png).expect("write screenshot");
    }

    /// Waits until the element is displayed, then returns it.
    pub async fn visible(&self, css: &str) -> fantoccini::elements::Element {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                if element.is_displayed().await.unwrap_or(false) {
                    return element;
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!("{css} did not show within {UI_TIMEOUT:?}"))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The element's text (`textContent`, trimmed), or `None` if absent.
    pub async fn text_of(&self, css: &str) -> Option<String> {
        let value = self
            .client
            .execute(
                "const e = document.querySelector(arguments[0]); return e ? e.textContent.trim() : null;",
                vec![serde_json::Value::String(css.to_owned())],
            )
            .await
            .ok()?;
        value.as_str().map(str::to_owned)
    }

    /// Waits until the element's text contains `needle`; returns the text.
    pub async fn text_contains(&self, css: &str, needle: &str) -> String {
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let text = self.text_of(css).await;
            if let Some(text) = &text {
                if text.contains(needle) {
                    return text.clone();
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "{css} never contained {needle:?} within {UI_TIMEOUT:?}; it reads {text:?}"
                ))
                .await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Fails the test, leaving a screenshot of the moment as `failure.png`.
    pub async fn fail(&self, why: &str) -> ! {
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(self.shots.join("failure.png"), png);
        }
        panic!(
            "{why} (screenshot: {})",
            self.shots.join("failure.png").display()
        );
    }

    /// Waits for a second window to appear and switches to it; returns the
    /// main window's handle to switch back.
    pub async fn switch_to_new_window(&self) -> fantoccini::wd::WindowHandle {
        let main = self.client.window().await.expect("current window");
        let deadline = Instant::now() + UI_TIMEOUT;
        loop {
            let handles = self.client.windows().await.expect("windows");
            if let Some(other) = handles.into_iter().find(|h| *h != main) {
                self.client.switch_to_window(other).await.expect("switch");
                return main;
            }
            assert!(Instant::now() < deadline, "no second window appeared");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Ends the session (the app quits) and the driver.
    pub async fn quit(mut self) {
        let client = self.client.clone();
        let _ = client.close().await;
        self.kill();
    }

    fn kill(&mut self) {
        // SAFETY: kill(2) on our own child's process group.
        unsafe {
            libc::kill(-(self.driver.id() as i32), libc::SIGKILL);
        }
        let _ = self.driver.wait();
        // The app must be gone before the next launch, or the single-instance
        // plugin hands that launch to this dying one.
        let binary = crate::app_binary();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let running = app_pids(&binary);
            if running.is_empty() || Instant::now() > deadline {
                break;
            }
            for pid in running {
                // SAFETY: kill(2) on a process running our app binary.
                unsafe {
                    libc::kill(pid, libc::SIGKILL);
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        wait_single_instance_released(deadline);
    }
}

/// Waits (until `deadline` at most) for the app's single-instance D-Bus
/// name to have no owner. The bus releases it a moment after the process
/// is gone; a launch before that is handed to the dead one.
pub fn wait_single_instance_released(deadline: Instant) {
    while single_instance_name_taken() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether the app's single-instance D-Bus name still has an owner.
fn single_instance_name_taken() -> bool {
    let output = Command::new("dbus-send")
        .args([
            "--session",
            "--print-reply",
            "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus",
            "org.freedesktop.DBus.NameHasOwner",
            "string:dev.courier.desktop.SingleInstance",
        ])
        .output();
    match output {
        Ok(out) => String::from_utf8_lossy(&out.stdout).contains("boolean true"),
        Err(_) => false, // no dbus-send: nothing to wait for
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Processes whose executable is the app binary.
fn app_pids(binary: &Path) -> Vec<i32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let binary = binary
        .canonicalize()
        .unwrap_or_else(|_| binary.to_path_buf());
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let exe = std::fs::read_link(entry.path().join("exe")).ok()?;
            (exe == binary).then_some(pid)
        })
        .collect()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
