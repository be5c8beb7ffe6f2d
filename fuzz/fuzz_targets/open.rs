//! Opening a mapping of arbitrary bytes and length through every open path:
//! caller memory (`open_in`), a file (`open_file`), a shm object
//! (`open_shm`), and the CLI's `pread` probe. Whatever the bytes, the result
//! is a ring or a typed error; a ring that opens is then used a little.
#![no_main]

use std::ptr::NonNull;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use ringway::{mpmc, probe, spsc, Kind, OpenOptions, Ring};

/// A 128-aligned private copy of the input (caller memory for `open_in`).
struct Aligned {
    words: Vec<u128>,
    len: usize,
}

impl Aligned {
    fn new(bytes: &[u8]) -> Aligned {
        // u128 gives 16; over-allocate and offset to 128 by hand.
        let mut words = vec![0u128; bytes.len() / 16 + 9];
        let base = words.as_mut_ptr() as usize;
        let off = (128 - base % 128) % 128;
        // SAFETY: off + bytes.len() <= 16 * words.len() (8 spare words).
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                (base + off) as *mut u8,
                bytes.len(),
            )
        };
        Aligned {
            words,
            len: bytes.len(),
        }
    }

    fn ptr(&mut self) -> NonNull<u8> {
        let base = self.words.as_mut_ptr() as usize;
        let off = (128 - base % 128) % 128;
        NonNull::new((base + off) as *mut u8).unwrap()
    }
}

fn exercise(ring: &Ring) {
    let _ = ring.snapshot();
    match ring.kind() {
        Kind::Spsc => {
            if let Ok(mut tx) = spsc::BytesProducer::attach(ring) {
                let msg = vec![1u8; ring.slot_size()];
                let _ = tx.try_push(&msg);
                let _ = tx.push_timeout(&msg, Duration::ZERO);
            }
            if let Ok(mut rx) = spsc::BytesConsumer::attach(ring) {
                let mut buf = vec![0u8; ring.slot_size()];
                let _ = rx.try_pop(&mut buf);
                let _ = rx.pop_timeout(&mut buf, Duration::ZERO);
            }
        }
        Kind::Mpmc => {
            if let Ok(mut tx) = mpmc::BytesProducer::attach(ring) {
                let msg = vec![1u8; ring.slot_size()];
                let _ = tx.try_push(&msg);
                let _ = tx.push_timeout(&msg, Duration::ZERO);
            }
            if let Ok(mut rx) = mpmc::BytesConsumer::attach(ring) {
                let mut buf = vec![0u8; ring.slot_size()];
                let _ = rx.try_pop(&mut buf);
                let _ = rx.pop_timeout(&mut buf, Duration::ZERO);
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // Bound the size: a header plus a few slots is where the checks are.
    let data = &data[..data.len().min(1 << 16)];
    let opts = OpenOptions::new();

    let mut mem = Aligned::new(data);
    // SAFETY: `mem` holds `len` bytes, 128-aligned, private to this call,
    // and outlives the ring (dropped at the end of this block).
    if let Ok(ring) = unsafe { opts.open_in(mem.ptr(), mem.len) } {
        exercise(&ring);
    }

    let path = std::env::temp_dir().join(format!("ringway-fuzz-open-{}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    std::fs::write(&path, data).unwrap();
    if let Ok(f) = std::fs::File::open(&path) {
        let _ = probe::probe(&f);
    }
    if let Ok(ring) = opts.open_file(&path) {
        exercise(&ring);
    }
    let _ = std::fs::remove_file(&path);

    let name = format!("/ringway-fuzz-open-{}", std::process::id());
    let shm = format!("/dev/shm{name}");
    let _ = std::fs::remove_file(&shm);
    std::fs::write(&shm, data).unwrap();
    if let Ok(ring) = opts.open_shm(&name) {
        exercise(&ring);
    }
    let _ = std::fs::remove_file(&shm);
});
