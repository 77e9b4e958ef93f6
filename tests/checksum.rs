//! rl-checksum integration tests.
