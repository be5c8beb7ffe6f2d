//! Benchmarks of ringway against its peers live in `benches/` of this crate
//! (criterion); this library holds the workloads they share.
