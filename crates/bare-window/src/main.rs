//! The window benchmark's baseline, not shipped: a bare Tauri v2 app (one
//! window with a heading, no plugins, Courier's Tauri version, features and
//! release profile). `scripts/bench` runs it beside Courier and prints
//! Courier's figures as ratios of this one's.
//!
//! Its page reports first paint: once the heading is painted it invokes
//! [`report_first_paint`] with its own clock, which prints
//! `first-paint-ms <N> page-ms <P>` ([`start_clock::FirstPaint`], the same
//! line and clock as Courier's).
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")] // no console window

use std::io::Write as _;

/// Prints the first-paint line to stdout (the benchmark reads it).
#[tauri::command]
fn report_first_paint(page_ms: Option<f64>) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{}", start_clock::FirstPaint::now(page_ms));
    let _ = out.flush();
}

fn main() {
    start_clock::mark();
    tauri::Builder::default()
        .invoke_handler(tauri::generate_handler![report_first_paint])
        .run(tauri::generate_context!())
        .expect("error while running the bare window");
}
