//! `bench --quick`: every row runs (a few milliseconds each), the table has
//! every group and mechanism, the JSON and SVG are written, and nothing is
//! left in /dev/shm or the temp dir.

mod common;
use common::ringway;

#[test]
fn quick_bench_prints_every_row_and_cleans_up() {
    let dir = std::env::temp_dir();
    let json = dir.join(format!("ringway-clitest-{}-bench.json", std::process::id()));
    let svg = dir.join(format!("ringway-clitest-{}-bench.svg", std::process::id()));
    let child = ringway()
        .args([
            "bench",
            "--quick",
            "--json",
            json.to_str().unwrap(),
            "--plot",
            svg.to_str().unwrap(),
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "bench failed:\n{table}");

    let groups = [
        "round trip, u64, busy-polling",
        "round trip, u64, blocking",
        "one-way throughput, u64, single",
        "one-way throughput, u64, batched",
        "one-way throughput, 64 B, single",
        "one-way throughput, 64 B, batched",
        "one-way throughput, 4 KiB, single",
        "one-way throughput, 4 KiB, batched",
        "one-way throughput, 64 KiB, single",
        "one-way throughput, 64 KiB, batched",
    ];
    // Split the table into groups and check each one's rows.
    for (i, g) in groups.iter().enumerate() {
        let start = table
            .find(g)
            .unwrap_or_else(|| panic!("no group {g:?}:\n{table}"));
        let end = groups[i + 1..]
            .first()
            .and_then(|n| table.find(n))
            .unwrap_or(table.len());
        let body = &table[start..end];
        let mut want = vec![
            "ringway ",
            "ringway mpmc",
            "pipe",
            "fifo",
            "unix stream",
            "unix dgram",
            "posix mq",
        ];
        if g.starts_with("round trip") {
            want.push("eventfd");
        }
        if g.contains("busy-polling") {
            want.push("cache line");
            want.push("slot walk");
        }
        if g.contains("blocking") {
            want.push("ringway default");
        }
        if g.starts_with("one-way throughput, u64") {
            // Two producer threads in the peer, two consumers in the bench.
            want.push("mpmc 2p2c");
        }
        for m in want {
            assert!(
                body.lines().any(|l| l.trim_start().starts_with(m)),
                "group {g:?} lacks {m:?}:\n{body}"
            );
        }
        // Skipped rows say why; only mq rows may be skipped.
        for l in body.lines().filter(|l| l.contains("skipped")) {
            assert!(
                l.trim_start().starts_with("posix mq"),
                "unexpected skip: {l}"
            );
        }
    }
    assert!(table.contains("1.00x"), "no ratio column:\n{table}");
    // The variable-size group ends the default run.
    let records = table
        .find("variable-size records")
        .map(|at| &table[at..])
        .unwrap_or_else(|| panic!("no variable-size group:\n{table}"));
    for row in [
        "record ring",
        "pipe (length-prefixed)",
        "UNIX datagram socket",
        "broadcast, gated, 1 subscriber",
        "broadcast, gated, 2 subscriber",
        "broadcast, gated, 4 subscriber",
    ] {
        assert!(
            records.lines().any(|l| l.trim_start().starts_with(row)),
            "no {row:?} row:\n{records}"
        );
    }

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let rows = doc["rows"].as_array().unwrap();
    assert!(rows.len() >= 60, "{} rows in the JSON", rows.len());
    assert!(rows
        .iter()
        .all(|r| r["mechanism"].is_string() && r["result"].is_object()));
    // Each round trip's ratio to the raw cache-line round trip of its group.
    assert!(table.contains("vs line"), "no floor column:\n{table}");
    let busy = |name: &str| {
        rows.iter()
            .find(|r| r["mechanism"] == name && r["workload"]["mode"] == "busy_poll")
            .unwrap_or_else(|| panic!("no busy-polling {name} row"))
    };
    assert_eq!(
        busy("cache line")["ratio_to_cache_line"].as_f64(),
        Some(1.0)
    );
    for name in ["ringway", "ringway mpmc", "slot walk"] {
        let ratio = busy(name)["ratio_to_cache_line"].as_f64();
        assert!(ratio.is_some_and(|r| r > 0.0), "{name}: {ratio:?}");
    }
    let variable = doc["records"].as_array().unwrap();
    assert_eq!(variable.len(), 6, "{variable:?}");
    assert!(variable
        .iter()
        .all(|r| r["records"] == 200 && r["mb_per_s"].as_f64().is_some_and(|v| v > 0.0)));
    let plot = std::fs::read_to_string(&svg).unwrap();
    assert!(plot.starts_with("<svg") && plot.contains("polyline"));
    std::fs::remove_file(&json).unwrap();
    std::fs::remove_file(&svg).unwrap();

    // No names left behind (the record rows' names end with the pid).
    let prefix = format!("ringway-bench-{pid}-");
    let suffix = format!("-{pid}");
    for dir in ["/dev/shm", dir.to_str().unwrap()] {
        let left: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with(&prefix)
                    || name.starts_with("ringway-bench-") && name.ends_with(&suffix)
            })
            .collect();
        assert!(left.is_empty(), "left in {dir}: {left:?}");
    }
}
