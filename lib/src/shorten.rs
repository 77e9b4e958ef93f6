//! Messages of bounded length.
//!
//! An error message often quotes its input: a path, a line of a CHECKSUM file, an upstream record.
//! A hostile or broken input can make that 100 KB long, and one such line drowns a terminal or a
//! log. Messages and the stderr lines are cut to their head and tail; the `root`/`path` fields of a
//! record are never cut (they are data, and a consumer needs them exact).

use std::borrow::Cow;

/// The longest message kept whole, in bytes.
pub const MAX_MESSAGE: usize = 512;

/// `text` when it is at most `max` bytes, else its head and tail around a note of how much was cut
/// (cut on character boundaries, so the result stays valid UTF-8).
pub fn shorten(text: &str, max: usize) -> Cow<'_, str> {
    if text.len() <= max {
        return Cow::Borrowed(text);
    }
    let tail_len = max / 4;
    let head_end = floor_boundary(text, max - tail_len);
    let tail_start = ceil_boundary(text, text.len() - tail_len);
    let cut = tail_start - head_end;
    Cow::Owned(format!(
        "{}…[{cut} bytes cut]…{}",
        &text[..head_end],
        &text[tail_start..]
    ))
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn ceil_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i += 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_kept_long_text_keeps_head_and_tail() {
        assert_eq!(shorten("short", 512), "short");
        let long = format!("start{}end", "é".repeat(50_000));
        let s = shorten(&long, 512);
        assert!(s.len() < 600, "{}", s.len());
        assert!(s.starts_with("start") && s.ends_with("end"));
        assert!(s.contains("bytes cut]"));
        let exact = "x".repeat(512);
        assert_eq!(shorten(&exact, 512), exact.as_str());
    }
}
