//! Generates Tauri's context from this crate's `tauri.conf.json` and the
//! permission (`allow-report-first-paint`) for its one command.

fn main() {
    let attributes = tauri_build::Attributes::new()
        .app_manifest(tauri_build::AppManifest::new().commands(&["report_first_paint"]));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
