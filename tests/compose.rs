//! rl-compose integration tests (none yet).
