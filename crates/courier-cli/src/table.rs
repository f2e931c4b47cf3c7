//! The messages table: time, author, text, one line per message.

use chrono::{DateTime, Local};
use courier_messages::Message;

/// At most this many characters of an author name are shown.
const AUTHOR_WIDTH: usize = 24;

/// Renders `messages` (newest first, as given) as an aligned table.
pub(crate) fn render(messages: &[Message]) -> String {
    let rows: Vec<(String, String, String)> = messages
        .iter()
        .map(|m| {
            let author = clip(
                &clean(m.author_name.as_deref().unwrap_or("?")),
                AUTHOR_WIDTH,
            );
            (format_time(m.creation_time), author, clean(&m.body))
        })
        .collect();
    let width = rows
        .iter()
        .map(|(_, a, _)| a.chars().count())
        .chain(["AUTHOR".len()])
        .max()
        .unwrap_or(0);
    let time_width = rows
        .iter()
        .map(|(t, _, _)| t.chars().count())
        .chain(["TIME".len()])
        .max()
        .unwrap_or(0);
    let mut out = format!("{:time_width$}  {:width$}  MESSAGE\n", "TIME", "AUTHOR");
    for (time, author, body) in rows {
        out.push_str(&format!("{time:time_width$}  {author:width$}  {body}\n"));
    }
    out
}

/// One message as a line for `messages --watch`: time, author, text, with
/// the author column at its full width (lines come one at a time).
pub(crate) fn line(message: &Message) -> String {
    let author = clip(
        &clean(message.author_name.as_deref().unwrap_or("?")),
        AUTHOR_WIDTH,
    );
    format!(
        "{}  {author:AUTHOR_WIDTH$}  {}",
        format_time(message.creation_time),
        clean(&message.body)
    )
}

/// Local time, to the minute.
fn format_time(millis: f64) -> String {
    DateTime::from_timestamp_millis(millis as i64)
        .map(|t| t.with_timezone(&Local).format("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|| "?".to_owned())
}

/// One line, no terminal control sequences: text comes from the backend
/// and must not be able to drive the terminal.
fn clean(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| if c.is_control() { '\u{FFFD}' } else { c })
        .collect()
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut s: String = text.chars().take(max - 1).collect();
    s.push('…');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(author: &str, body: &str) -> Message {
        Message {
            id: "m1".into(),
            creation_time: 1_700_000_000_000.0,
            author: "iss|u".into(),
            author_name: Some(author.into()),
            body: body.into(),
            client_message_id: None,
        }
    }

    #[test]
    fn a_watched_line_is_clean_and_aligned() {
        let l = line(&msg("Ada", "two\nlines \u{1b}[2J"));
        assert!(
            l.ends_with(&format!("{:AUTHOR_WIDTH$}  two lines \u{FFFD}[2J", "Ada")),
            "{l}"
        );
        assert!(!l.contains('\n'));
    }

    #[test]
    fn aligns_columns_and_keeps_order() {
        let out = render(&[msg("Ada Lovelace", "newest"), msg("Grace", "older\nline")]);
        let lines: Vec<_> = out.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TIME"), "{out}");
        let col = lines[0].find("MESSAGE").unwrap();
        assert_eq!(&lines[1][col..], "newest");
        assert_eq!(&lines[2][col..], "older line");
        assert!(lines[1].contains("Ada Lovelace"));
    }

    #[test]
    fn strips_terminal_escapes_and_clips_authors() {
        let out = render(&[msg(&"A".repeat(40), "red \u{1b}[31mtext")]);
        assert!(!out.contains('\u{1b}'), "{out:?}");
        assert!(out.contains("\u{FFFD}[31mtext"));
        assert!(out.contains(&format!("{}…", "A".repeat(23))));
    }

    #[test]
    fn empty_list_is_just_the_header() {
        assert_eq!(render(&[]).lines().count(), 1);
    }
}
