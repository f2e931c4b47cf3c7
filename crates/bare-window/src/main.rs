//! The window benchmark's baseline, not shipped: a bare Tauri v2 app (one
//! window with a heading, no plugins, Courier's Tauri version, features and
//! release profile). `scripts/bench` runs it beside Courier and prints
//! Courier's figures as ratios of this one's.
//!
//! Its page reports first paint: once the heading is painted it invokes
//! [`report_first_paint`], which prints `first-paint-ms <N>`, N the
//! milliseconds since the process started (the same clock as Courier's).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")] // no console window

use std::io::Write as _;

/// Prints `first-paint-ms <N>` to stdout (the benchmark reads it).
#[tauri::command]
fn report_first_paint() {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "first-paint-ms {}", start_clock::millis_since_start());
    let _ = out.flush();
}

fn main() {
    start_clock::mark();
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![report_first_paint])
        .run(tauri::generate_context!())
        .expect("error while running the bare window");
}
