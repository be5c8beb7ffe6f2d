//! loom models of ringway's protocols live in `tests/` of this crate and run
//! only with `RUSTFLAGS="--cfg loom"`; see the README's testing section.
