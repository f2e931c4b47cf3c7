//! A display for the window: the one in `DISPLAY`, else a private Xvfb.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

/// Makes sure `DISPLAY` names a working X display, starting Xvfb on a free
/// display number when there is none. Xvfb lives as long as the process.
pub fn ensure_display() -> String {
    static DISPLAY: OnceLock<String> = OnceLock::new();
    DISPLAY
        .get_or_init(|| {
            if let Ok(display) = std::env::var("DISPLAY") {
                if works(&display) {
                    return display;
                }
            }
            // Xvfb is tied to a thread that lives as long as the process, so
            // it dies with the tests (PR_SET_PDEATHSIG follows the thread).
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let display = start_xvfb();
                tx.send(display).expect("waiting for the display");
                loop {
                    std::thread::park();
                }
            });
            rx.recv().expect("Xvfb thread answers")
        })
        .clone()
}

fn start_xvfb() -> String {
    for n in 150..250 {
        if std::path::Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
            || std::path::Path::new(&format!("/tmp/.X{n}-lock")).exists()
        {
            continue;
        }
        let display = format!(":{n}");
        let mut command = Command::new("Xvfb");
        command
            .args([&display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        // Never waited on: it runs until the tests end (PR_SET_PDEATHSIG).
        #[allow(clippy::zombie_processes)]
        command
            .spawn()
            .expect("Xvfb is installed (scripts/test installs it)");
        for _ in 0..50 {
            if works(&display) {
                return display;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    panic!("could not start Xvfb");
}

fn works(display: &str) -> bool {
    Command::new("xdpyinfo")
        .env("DISPLAY", display)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
