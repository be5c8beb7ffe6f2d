//! Placeholder so the workspace builds; the mpmc benchmark is being written.

fn main() {}
