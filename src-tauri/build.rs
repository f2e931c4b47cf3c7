//! Generates Tauri's context from the root `tauri.conf.json` and the ACL
//! permissions (`allow-<command>`) for the app's own commands.

fn main() {
    let attributes = tauri_build::Attributes::new()
        // The manifest sits at the root, the capabilities beside the sources.
        .capabilities_path_pattern("src-tauri/capabilities/**/*")
        .app_manifest(tauri_build::AppManifest::new().commands(&[
            "start",
            "auth_state",
            "sign_in",
            "cancel_sign_in",
            "sign_out",
            "messages_snapshot",
            "messages_load_more",
            "send_message",
            "draft_get",
            "draft_set",
            "report_first_paint",
        ]));
    if let Err(error) = tauri_build::try_build(attributes) {
        panic!("tauri-build failed: {error:#}");
    }
}
