//! rl-bitflip integration tests (none yet).
