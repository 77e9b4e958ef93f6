//! Progress bars on stderr, only when stderr is a terminal.
//!
//! stdout carries records only, and CI logs and pipelines must stay deterministic, so a bar is drawn
//! only when a person is watching: `--progress auto` (the default) means "stderr is a terminal".

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// When to draw a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum When {
    /// When stderr is a terminal.
    #[default]
    Auto,
    Always,
    Never,
}

impl When {
    /// Whether a bar would be drawn.
    pub fn enabled(self) -> bool {
        match self {
            When::Auto => std::io::stderr().is_terminal(),
            When::Always => true,
            When::Never => false,
        }
    }
}

/// A bar counting bytes (hashing, copying); hidden unless `when` says to draw it.
pub fn bytes_bar(total: u64, message: &str, when: When) -> ProgressBar {
    if !when.enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{spinner} {msg} [{wide_bar}] {binary_bytes}/{binary_total_bytes} {binary_bytes_per_sec} {eta}",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}

/// A bar counting items (files, entries).
pub fn count_bar(total: u64, message: &str, when: When) -> ProgressBar {
    if !when.enabled() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{spinner} {msg} [{wide_bar}] {pos}/{len} {eta}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.set_message(message.to_owned());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_is_hidden_and_always_draws() {
        assert!(bytes_bar(10, "x", When::Never).is_hidden());
        assert!(!When::Never.enabled());
        assert!(When::Always.enabled());
        let bar = count_bar(3, "files", When::Never);
        bar.inc(1);
        assert_eq!(bar.position(), 1);
    }
}
