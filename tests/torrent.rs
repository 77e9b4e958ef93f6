//! rl-torrent integration tests (none yet).
