//! rl-filelist integration tests (none yet).
