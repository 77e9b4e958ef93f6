//! rl-sync integration tests (none yet).
