//! Placeholder so the workspace builds; the spsc benchmark is being written.

fn main() {}
