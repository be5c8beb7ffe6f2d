//! Processes that die under the CLI: `cat --read` ends with an error when
//! its writer is SIGKILLed mid-stream, a restarted writer takes the role
//! over, and `gc` reaps dead peers and removes rings whose peers all died.

mod common;
use std::io::{Read, Write};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{fails, ok, ringway, Name};

/// A guard against hangs, not a timing assertion.
const PATIENCE: Duration = Duration::from_secs(20);

/// Kills and reaps the child on drop.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `ringway info NAME` shows `needle`.
fn wait_for_info(name: &str, needle: &str) {
    let deadline = Instant::now() + PATIENCE;
    while !ok(&["info", name]).contains(needle) {
        assert!(Instant::now() < deadline, "no {needle:?} in info");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn cat_read_ends_with_an_error_when_its_writer_dies_and_a_new_writer_takes_over() {
    let name = Name::new("cat-dies");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "64",
        "--slot-size",
        "256",
    ]);
    let mut reader = Reaped(
        ringway()
            .args(["cat", name.as_str(), "--read"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut writer = Reaped(
        ringway()
            .args(["cat", name.as_str(), "--write"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Some bytes, and the writer stays alive (its stdin stays open).
    let mut stdin = writer.0.stdin.take().unwrap();
    stdin.write_all(b"before the crash\n").unwrap();
    stdin.flush().unwrap();
    let mut stdout = reader.0.stdout.take().unwrap();
    let mut got = vec![0u8; 17];
    stdout.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"before the crash\n");
    writer.0.kill().unwrap();
    writer.0.wait().unwrap();
    let killed = Instant::now();
    let status = reader.0.wait().unwrap();
    let ended = killed.elapsed();
    assert!(
        !status.success(),
        "the reader must fail when its writer dies"
    );
    assert!(ended < PATIENCE);
    eprintln!("cat --read ended {ended:?} after its writer's SIGKILL");
    let mut err = String::new();
    reader
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("writer died"), "{err}");
    drop(stdin);
    // A restarted writer takes the dead one's role over (it was never
    // released), and a new reader gets the new stream.
    let mut reader = Reaped(
        ringway()
            .args(["cat", name.as_str(), "--read"])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut writer = ringway()
        .args(["cat", name.as_str(), "--write"])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    writer.stdin.take().unwrap().write_all(b"after\n").unwrap();
    assert!(writer.wait().unwrap().success(), "the restarted writer");
    let mut out = Vec::new();
    reader
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    assert_eq!(out, b"after\n");
    assert!(reader.0.wait().unwrap().success());
    ok(&["rm", name.as_str()]);
}

#[test]
fn gc_reaps_dead_peers_and_removes_rings_whose_peers_all_died() {
    let name = Name::new("gc");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "16",
        "--slot-size",
        "64",
    ]);
    // Nobody attached: gc leaves the ring alone.
    assert!(ok(&["gc", name.as_str()]).contains("0 dead peers"));
    let mut reader = Reaped(
        ringway()
            .args(["cat", name.as_str(), "--read"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_info(name.as_str(), "alive");
    assert!(ok(&["gc", name.as_str()]).contains("0 dead peers"));
    reader.0.kill().unwrap();
    reader.0.wait().unwrap();
    let info = ok(&["info", name.as_str()]);
    assert!(info.contains("DEAD"), "{info}");
    let dry = ok(&["gc", name.as_str(), "--dry-run"]);
    assert!(
        dry.contains("1 dead peers") && dry.contains("would remove"),
        "{dry}"
    );
    ok(&["info", name.as_str()]);
    let out = ok(&["gc", name.as_str()]);
    assert!(out.contains("did remove"), "{out}");
    assert!(fails(&["info", name.as_str()]).contains("no ring"));
}

#[test]
fn info_and_ls_name_the_pid_that_holds_an_spsc_role() {
    // The header's role word names a peer entry since the peer table came;
    // `info` and `ls` printed that word as if it were a pid.
    let name = Name::new("role-pid");
    ok(&[
        "create",
        name.as_str(),
        "--capacity",
        "8",
        "--slot-size",
        "64",
    ]);
    let reader = Reaped(
        ringway()
            .args(["cat", name.as_str(), "--read"])
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = reader.0.id();
    wait_for_info(name.as_str(), &format!("consumer        pid {pid} (alive)"));
    assert!(ok(&["info", name.as_str()]).contains("producer        free"));
    let ls = ok(&["ls"]);
    let row = ls
        .lines()
        .find(|l| l.starts_with(name.as_str()))
        .unwrap_or_else(|| panic!("no row for {} in\n{ls}", name.as_str()));
    assert!(
        row.contains(&format!("producer free, consumer pid {pid} (alive)")),
        "{row}"
    );
    drop(reader);
    ok(&["rm", name.as_str()]);
}
