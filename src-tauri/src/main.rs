//! Courier's entry point; everything else is in `lib.rs`.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")] // no console window
fn main() {
    courier_lib::run()
}
