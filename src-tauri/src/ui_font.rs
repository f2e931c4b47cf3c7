//! The desktop's interface font, named for the page on Linux.
//!
//! The page's stylesheet asks for `system-ui`, which is right on macOS and
//! Windows. WebKitGTK resolves `system-ui` to GTK's `gtk-font-name` too,
//! but slowly: it cost about 20 ms of the window's first frame, while the
//! same family by name cost nothing extra (window bench, WebKitGTK 2.50).
//! So on Linux the app reads that setting itself and the page names the
//! family (`start` answers it): the same font, sooner.

/// The family of GTK's interface font (`"Cantarell 11"` gives
/// `Cantarell`), if it is set and safe to put in a CSS string. Call on the
/// main thread (GTK's settings live there); elsewhere than Linux, `None`.
pub(crate) fn family() -> Option<String> {
    #[cfg(target_os = "linux")]
    {
        use gtk::prelude::GtkSettingsExt as _;
        let name = gtk::Settings::default()?.gtk_font_name()?;
        family_of(&name)
    }
    #[cfg(not(target_os = "linux"))]
    None
}

/// The family in a Pango font name, if it is a plain name: letters,
/// digits, spaces, `-`, `_` and `.` only, so it can go into CSS as is.
#[cfg(target_os = "linux")]
fn family_of(font_name: &str) -> Option<String> {
    let description = gtk::pango::FontDescription::from_string(font_name);
    // A list ("Cantarell, Sans 11") names the one GTK uses first.
    let family = description.family()?.split(',').next()?.trim().to_string();
    let plain = !family.is_empty()
        && family.len() <= 64
        && family
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'));
    plain.then_some(family)
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::family_of;

    #[test]
    fn the_family_without_size_or_style() {
        assert_eq!(family_of("Cantarell 11").as_deref(), Some("Cantarell"));
        assert_eq!(
            family_of("DejaVu Sans Bold 10").as_deref(),
            Some("DejaVu Sans")
        );
        assert_eq!(family_of("Ubuntu").as_deref(), Some("Ubuntu"));
        assert_eq!(
            family_of("Cantarell, Sans 11").as_deref(),
            Some("Cantarell")
        );
    }

    #[test]
    fn nothing_that_could_break_out_of_a_css_string() {
        assert_eq!(family_of(r#"Evil"; } body { color: red 10"#), None);
        assert_eq!(family_of(r"Back\slash 10"), None);
        assert_eq!(family_of(""), None);
        assert_eq!(family_of("11"), None);
    }
}
