//! The real window's figures against a bare Tauri v2 window measured in the
//! same run (a benchmark, not a test; run by `scripts/bench` inside a
//! private keychain).
//!
//! Set-up, through WebDriver: sign in once, make sure the account has 50
//! messages, and check that a fresh start shows 50 (the window's first page
//! is 50: `src-tauri/src/live.rs`). The session stays in the keychain.
//!
//! Then the two release binaries are launched directly (no WebDriver, so its
//! start-up is not counted), alternately bare, Courier, bare, ... after one
//! uncounted warm-up pair; `BENCH_RUNS` runs each (default 7), with the same
//! environment and folders, so Courier restores the session and shows the 50
//! messages. Each run:
//!
//! * first paint: the `first-paint-ms <N> page-ms <P>` line the app prints
//!   (Courier's first message painted, the bare window's heading; N = ms
//!   since the process started, by the kernel's clock, P = ms since the page
//!   started, by the page's: `crates/start-clock`), split at the page's
//!   start; and the time from spawn to reading that line, by this process's
//!   clock;
//! * 5 s later, PSS and RSS summed over the process tree (the app and its
//!   WebKit processes), from `/proc/<pid>/smaps_rollup`;
//! * then the tree is killed, and the next launch waits until it is gone
//!   (and Courier's single-instance name is released).
//!
//! Inputs: `COURIER_APP_BINARY`, `BARE_APP_BINARY` (default
//! `target/release/bare-window`), and optionally `COURIER_DEB`, `BARE_DEB`
//! for the package sizes. `BENCH_BARE_ENV` (`KEY=VALUE,...`) adds to the
//! bare window's environment only: e.g. `WEBKIT_SKIA_ENABLE_CPU_RENDERING=1`
//! paints it the way Courier paints on a machine without a GPU (the table
//! says when Courier did), for a like-for-like comparison.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use e2e::{workspace_root, App, AppDirs, Launch};
use start_clock::FirstPaint;
use test_support::{demo, TestBackends};

/// Runs of each app unless `BENCH_RUNS` says otherwise.
const DEFAULT_RUNS: usize = 7;
/// Messages the account has, and Courier shows, while memory is sampled.
const MESSAGES: usize = 50;
/// From first paint to the memory sample.
const SETTLE: Duration = Duration::from_secs(5);
/// Longest wait for a first-paint line.
const PAINT_TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let courier = Target {
        name: "courier",
        binary: e2e::app_binary(),
        deb: std::env::var_os("COURIER_DEB").map(PathBuf::from),
        single_instance: true,
        extra_env: Vec::new(),
    };
    let bare = Target {
        name: "bare-window",
        binary: std::env::var_os("BARE_APP_BINARY")
            .map(PathBuf::from)
            .unwrap_or_else(|| workspace_root().join("target/release/bare-window")),
        deb: std::env::var_os("BARE_DEB").map(PathBuf::from),
        single_instance: false,
        extra_env: std::env::var("BENCH_BARE_ENV")
            .unwrap_or_default()
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .map(|(key, value)| (key.trim().to_string(), value.trim().to_string()))
            .collect(),
    };
    for target in [&courier, &bare] {
        assert!(
            target.binary.exists(),
            "{} missing: {} (scripts/bench builds both release binaries)",
            target.name,
            target.binary.display()
        );
    }
    let runs = std::env::var("BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or(DEFAULT_RUNS);

    let backends = TestBackends::start().await.expect("servers start");
    let dirs = AppDirs::new();
    let mut env: Vec<(String, String)> = backends.env().into_iter().collect();
    prepare(&env, &dirs).await;

    env.push(("COURIER_REPORT_FIRST_PAINT".into(), "1".into()));
    env.push(("DISPLAY".into(), e2e::ensure_display()));
    for (key, folder) in [
        ("XDG_CONFIG_HOME", "config"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CACHE_HOME", "cache"),
    ] {
        env.push((key.into(), dirs.path().join(folder).display().to_string()));
    }
    let logs = workspace_root().join("target/e2e/bench-window");
    std::fs::create_dir_all(&logs).expect("log folder");

    eprintln!("window bench: warm-up, then {runs} runs each, alternating");
    for target in [&bare, &courier] {
        target.run(&env, &logs.join(format!("{}-warm-up.log", target.name)));
    }
    let (mut bare_runs, mut courier_runs) = (Vec::new(), Vec::new());
    for i in 0..runs {
        for (target, samples) in [(&bare, &mut bare_runs), (&courier, &mut courier_runs)] {
            let sample = target.run(&env, &logs.join(format!("{}-{i}.log", target.name)));
            eprintln!("  {} run {}: {sample:?}", target.name, i + 1);
            samples.push(sample);
        }
    }
    drop(backends);

    print_table(runs, &bare_runs, &courier_runs, &bare, &courier);
    // Courier paints on the CPU where there is no GPU (src-tauri's
    // `painting`); the bare window keeps WebKit's default unless told.
    let courier_log = std::fs::read_to_string(logs.join("courier-0.log")).unwrap_or_default();
    if courier_log.contains(CPU_PAINTING_LINE) {
        println!();
        println!(
            "Courier painted on the CPU (no GPU here); the bare window's extra environment: {:?}",
            bare.extra_env
        );
    }
}

/// What Courier logs when it paints on the CPU.
const CPU_PAINTING_LINE: &str = "the window paints on the CPU";

/// Signs in once and makes sure the account has [`MESSAGES`] messages, then
/// checks that a fresh start shows them all on its first page.
async fn prepare(env: &[(String, String)], dirs: &AppDirs) {
    let launch = |name| Launch {
        env: env.to_vec(),
        dirs: Some(dirs),
        name,
    };
    let mut app = App::launch(launch("bench")).await;
    app.sign_in(demo::ADA_EMAIL, demo::PASSWORD).await;
    app.visible("#messages li.message").await;
    let have = app.message_bodies().await.len();
    for i in have..MESSAGES {
        let text = format!("bench message {i}");
        app.send(&text).await;
        app.message_shown(&text).await;
    }
    app.quit().await;

    let app = App::launch(launch("bench")).await;
    app.visible("#messages li.message").await;
    let deadline = Instant::now() + e2e::UI_TIMEOUT;
    while app.message_bodies().await.len() < MESSAGES {
        assert!(
            Instant::now() < deadline,
            "a fresh start shows {} messages, not {MESSAGES}",
            app.message_bodies().await.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.quit().await;
}

/// One of the two apps.
struct Target {
    name: &'static str,
    binary: PathBuf,
    deb: Option<PathBuf>,
    /// Whether a launch must wait for the last one's single-instance name.
    single_instance: bool,
    /// Added to this app's environment only (`BENCH_BARE_ENV`).
    extra_env: Vec<(String, String)>,
}

/// One run's figures.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// The app's own figure: process start to first paint.
    first_paint_ms: f64,
    /// Of which in the page (its start to first paint), if it said.
    in_page_ms: Option<f64>,
    /// Spawn to the first-paint line read, by this process's clock.
    spawn_to_line_ms: f64,
    /// The process tree's proportional set size.
    pss_kib: u64,
    /// The app's own process's share of it (the rest is WebKit's).
    app_pss_kib: u64,
    /// The process tree's resident set sizes, summed (shared pages counted
    /// once per process).
    rss_kib: u64,
    /// Processes in the tree.
    processes: usize,
}

impl Target {
    /// Launches the app, reads its first paint, samples memory [`SETTLE`]
    /// later, then kills its process tree and waits until it is gone.
    fn run(&self, env: &[(String, String)], log: &Path) -> Sample {
        let stderr = std::fs::File::create(log).expect("log file");
        let mut command = Command::new(&self.binary);
        command
            .envs(env.iter().chain(&self.extra_env).map(|(k, v)| (k, v)))
            // BENCH_APP_LOG (a RUST_LOG filter) to see where start-up goes.
            .env(
                "RUST_LOG",
                std::env::var("BENCH_APP_LOG").unwrap_or_else(|_| "info".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .process_group(0);
        let spawned = Instant::now();
        let mut child = command.spawn().expect("the app starts");
        let (tx, rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        // Reads every line (so the app never blocks on a full pipe) and
        // passes on the figure.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("first-paint-ms ") {
                    let _ = tx.send((Instant::now(), line.parse::<FirstPaint>()));
                }
            }
        });
        let (seen, report) = match rx.recv_timeout(PAINT_TIMEOUT) {
            Ok((seen, Ok(report))) => (seen, report),
            Ok((_, Err(error))) => self.fail(&mut child, log, &format!("bad figure: {error}")),
            Err(_) => self.fail(&mut child, log, "no first-paint-ms line within 30 s"),
        };
        std::thread::sleep(SETTLE);
        let tree = process_tree(child.id() as i32);
        let app_pss_kib = memory_kib(child.id() as i32).0;
        let (pss_kib, rss_kib) = tree
            .iter()
            .map(|&pid| memory_kib(pid))
            .fold((0, 0), |(pss, rss), (p, r)| (pss + p, rss + r));
        self.stop(&mut child);
        Sample {
            first_paint_ms: report.since_start_ms as f64,
            in_page_ms: report.in_page_ms.map(|ms| ms as f64),
            spawn_to_line_ms: (seen - spawned).as_secs_f64() * 1000.0,
            pss_kib,
            app_pss_kib,
            rss_kib,
            processes: tree.len(),
        }
    }

    fn fail(&self, child: &mut Child, log: &Path, why: &str) -> ! {
        self.stop(child);
        panic!("{}: {why} (its log: {})", self.name, log.display());
    }

    /// Kills the app and its descendants and waits until all are gone.
    fn stop(&self, child: &mut Child) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let tree = process_tree(child.id() as i32);
        for &pid in &tree {
            // SAFETY: kill(2) on the app we started and its descendants.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
            }
        }
        let _ = child.wait();
        // The WebKit processes are reaped by whoever inherited them.
        while tree.iter().any(|pid| alive(*pid)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if self.single_instance {
            e2e::wait_single_instance_released(deadline);
        }
    }
}

/// `pid` and all its descendants, by the parent pid in `/proc/*/stat`.
fn process_tree(pid: i32) -> Vec<i32> {
    let parents: Vec<(i32, i32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            // Field 4, counted after the name in parentheses (field 2).
            let ppid = stat[stat.rfind(')')? + 1..]
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(
            parents
                .iter()
                .filter(|&&(_, ppid)| ppid == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    tree
}

/// (Pss, Rss) of one process in KiB, from `/proc/<pid>/smaps_rollup`.
fn memory_kib(pid: i32) -> (u64, u64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let field = |name: &str| {
        rollup
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    (field("Pss:"), field("Rss:"))
}

/// Whether `pid` exists and is not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        stat.rfind(')')
            .and_then(|i| stat[i + 1..].split_whitespace().next())
            .is_some_and(|state| state != "Z")
    })
}

/// Median, min and max.
fn spread(mut values: Vec<f64>) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

fn print_table(runs: usize, bare: &[Sample], courier: &[Sample], b: &Target, c: &Target) {
    // A figure some runs lack (an app that did not say) is left out.
    type Figure = (
        &'static str,
        &'static str,
        fn(&Sample) -> Option<f64>,
        usize,
    );
    let figures: [Figure; 9] = [
        (
            "first paint, ms since process start (app's clock)",
            "ms",
            |s| Some(s.first_paint_ms),
            0,
        ),
        (
            "  of which before the page starts",
            "ms",
            |s| s.in_page_ms.map(|page| s.first_paint_ms - page),
            0,
        ),
        (
            "  of which in the page (page's clock)",
            "ms",
            |s| s.in_page_ms,
            0,
        ),
        (
            "spawn to first-paint line read (bench's clock)",
            "ms",
            |s| Some(s.spawn_to_line_ms),
            0,
        ),
        (
            "PSS, app + WebKit processes, 5 s after first paint",
            "MiB",
            |s| Some(s.pss_kib as f64 / 1024.0),
            1,
        ),
        (
            "  of which the app's own process",
            "MiB",
            |s| Some(s.app_pss_kib as f64 / 1024.0),
            1,
        ),
        (
            "  of which WebKit's processes",
            "MiB",
            |s| Some(s.pss_kib.saturating_sub(s.app_pss_kib) as f64 / 1024.0),
            1,
        ),
        (
            "RSS summed over the same processes",
            "MiB",
            |s| Some(s.rss_kib as f64 / 1024.0),
            1,
        ),
        ("processes in the tree", "", |s| Some(s.processes as f64), 0),
    ];
    println!();
    println!(
        "Window: bare Tauri v2 window vs Courier showing {MESSAGES} messages \
         (release, stored session, {runs} runs each, alternating, after a warm-up pair)"
    );
    println!();
    println!("| figure | bare median (min-max) | Courier median (min-max) | Courier/bare |");
    println!("|---|---|---|---|");
    for (name, unit, get, decimals) in figures {
        let (Some(bare_values), Some(courier_values)) = (
            bare.iter().map(get).collect::<Option<Vec<_>>>(),
            courier.iter().map(get).collect::<Option<Vec<_>>>(),
        ) else {
            continue;
        };
        let (bm, bmin, bmax) = spread(bare_values);
        let (cm, cmin, cmax) = spread(courier_values);
        let unit = if unit.is_empty() {
            String::new()
        } else {
            format!(" {unit}")
        };
        println!(
            "| {name} | {bm:.decimals$}{unit} ({bmin:.decimals$}-{bmax:.decimals$}) \
             | {cm:.decimals$}{unit} ({cmin:.decimals$}-{cmax:.decimals$}) | {} |",
            ratio(cm, bm)
        );
    }
    let size = |path: &Path| std::fs::metadata(path).map(|m| m.len()).ok();
    let sizes = [
        (
            "release binary (stripped by the release profile)",
            Some(b.binary.as_path()),
            Some(c.binary.as_path()),
        ),
        (".deb", b.deb.as_deref(), c.deb.as_deref()),
    ];
    for (name, bare_path, courier_path) in sizes {
        let bs = bare_path.and_then(size);
        let cs = courier_path.and_then(size);
        let show = |s: Option<u64>| match s {
            Some(bytes) => format!("{:.2} MB", bytes as f64 / 1e6),
            None => "not built".into(),
        };
        let r = match (bs, cs) {
            (Some(bs), Some(cs)) => ratio(cs as f64, bs as f64),
            _ => "-".into(),
        };
        println!("| {name} | {} | {} | {r} |", show(bs), show(cs));
    }
}

fn ratio(courier: f64, bare: f64) -> String {
    if bare > 0.0 {
        format!("{:.2}x", courier / bare)
    } else {
        "-".into()
    }
}
