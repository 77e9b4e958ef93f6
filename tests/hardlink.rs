//! rl-hardlink integration tests (none yet).
