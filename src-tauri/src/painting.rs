//! How the webview paints on Linux: with Skia on the CPU when this machine
//! has no GPU to paint with, WebKitGTK's default (Skia on the GPU) otherwise.
//!
//! Without a usable GPU (no DRM render node, or Mesa told to use software:
//! virtual machines, remote desktops, CI), "the GPU" is llvmpipe, a GL
//! rasterizer in software. Painting through it costs more than Skia's own
//! CPU painting: on such a machine the window bench measured the process
//! tree's PSS 311 -> 265 MiB and first paint 474 -> 422 ms (WebKitGTK 2.50).
//! WebKit still composites either way, so nothing else changes.
//!
//! A person's own `WEBKIT_SKIA_ENABLE_CPU_RENDERING` always wins, and the
//! choice is made once, before any thread (or WebKit process) starts: the
//! web process inherits it.

use std::path::Path;

/// WebKitGTK's switch (read by its web process) to paint with Skia on the CPU.
pub(crate) const CPU_PAINTING_ENV: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";

/// Where Linux lists the GPUs' device nodes.
const DRI_DIR: &str = "/dev/dri";

/// Turns on CPU painting when there is no GPU, unless the environment
/// already says; returns whether it did. Call first thing in `main`, while
/// no other thread runs (it sets an environment variable).
pub(crate) fn choose() -> bool {
    if std::env::var_os(CPU_PAINTING_ENV).is_some() {
        return false;
    }
    let software_gl =
        std::env::var_os("LIBGL_ALWAYS_SOFTWARE").is_some_and(|v| v == "1" || v == "true");
    if software_gl || !has_usable_render_node(Path::new(DRI_DIR)) {
        // Sound only while no other thread reads the environment: the
        // caller runs it before the app starts any.
        std::env::set_var(CPU_PAINTING_ENV, "1");
        return true;
    }
    false
}

/// Whether `dri` holds a render node (`renderD*`) this user may open, which
/// is what Mesa needs to render on a GPU.
fn has_usable_render_node(dri: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dri) else {
        return false;
    };
    entries.flatten().any(|entry| {
        entry.file_name().to_string_lossy().starts_with("renderD")
            && std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(entry.path())
                .is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_dri_folder_means_no_gpu() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!has_usable_render_node(&dir.path().join("dri")));
    }

    #[test]
    fn a_card_without_a_render_node_is_not_enough() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("card0"), b"").unwrap();
        assert!(!has_usable_render_node(dir.path()));
    }

    #[test]
    fn a_render_node_this_user_can_open_is_a_gpu() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("renderD128"), b"").unwrap();
        assert!(has_usable_render_node(dir.path()));
    }
}
