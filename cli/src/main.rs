//! The `ringway` command: measure ringway against the classic IPC mechanisms
//! (`bench`, the main job), and operate rings (`create`, `info`, `ls`, `rm`,
//! `cat`).
//!
//! Every failure is one line on stderr, `ringway: ...`, and exit code 1
//! (2 for bad arguments, from clap).

#![deny(unsafe_op_in_unsafe_fn)]

mod admin;
mod bench;
mod byteinfo;
mod cat;
mod failure;
mod locator;
mod object;
mod records;
mod sys;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::failure::Failure;

/// Lock-free shared-memory rings: benchmark them, create them, look inside,
/// pipe bytes through them.
#[derive(Debug, Parser)]
#[command(name = "ringway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Ring kind on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum KindArg {
    /// One producer, one consumer.
    Spsc,
    /// Many producers, many consumers.
    Mpmc,
    /// Variable-size records, many producers, one consumer.
    Record,
    /// Variable-size records, one producer, many subscribers.
    Broadcast,
}

impl From<KindArg> for ringway::Kind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Spsc => ringway::Kind::Spsc,
            KindArg::Mpmc => ringway::Kind::Mpmc,
            KindArg::Record => ringway::Kind::Record,
            KindArg::Broadcast => ringway::Kind::Broadcast,
        }
    }
}

/// Barrier mode on the command line (see the README's "Barrier modes").
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BarrierArg {
    /// Asymmetric where this process can register for membarrier, else symmetric.
    Auto,
    /// Full fences on both sides; parking interrupts no other CPU.
    Symmetric,
    /// No fence per push/pop; one membarrier per park (fails without membarrier).
    Asymmetric,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure ringway across two processes pinned to two cores, against pipe,
    /// FIFO, UNIX sockets, POSIX message queues, eventfd and a raw cache line.
    Bench(bench::BenchArgs),
    /// Create a ring (a shared-memory name like /jobs, or --file PATH).
    Create {
        /// Shared-memory name (`/jobs`, or `jobs` for `/jobs`); omit with --file.
        name: Option<String>,
        /// Ring kind.
        #[arg(long, value_enum, default_value = "spsc")]
        kind: KindArg,
        /// Number of slots (a power of two); for record and broadcast
        /// rings, bytes (default 1 MiB).
        #[arg(long)]
        capacity: Option<u64>,
        /// Bytes per slot (spsc, mpmc).
        #[arg(long, default_value_t = 4096)]
        slot_size: u32,
        /// Create a file-backed ring at this path instead of a shm name.
        #[arg(long)]
        file: Option<PathBuf>,
        /// Broadcast: the producer waits for the slowest subscriber.
        #[arg(long)]
        gated: bool,
        /// Record: a CRC32C in every record (for durable file rings).
        #[arg(long)]
        checksums: bool,
        /// SPSC: a readiness stamp in front of each slot (lowest round-trip
        /// latency; chunks are not contiguous).
        #[arg(long)]
        stamped: bool,
        /// How notifiers and waiters pay for the wakeup handshake; fixed for
        /// the ring's life.
        #[arg(long, value_enum, default_value = "auto")]
        barrier: BarrierArg,
    },
    /// Show a ring's header, cursors, fill level, roles and waiters.
    Info {
        /// Shared-memory name (`/jobs`) or file path (`./jobs.ring`).
        name: String,
    },
    /// List the ringway rings in /dev/shm with their state.
    Ls,
    /// Remove a ring (refuses anything that is not a ringway ring).
    Rm {
        /// Shared-memory name or file path.
        name: String,
    },
    /// Clean up after dead processes: reap the dead peers of every ring in
    /// /dev/shm (or of NAME), and remove shm rings whose peers all died.
    Gc {
        /// Only this ring (shared-memory name or file path; a file is never removed).
        name: Option<String>,
        /// Say what would be done, change nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Pipe bytes through a ring of any kind: `cat NAME --write < in`,
    /// `cat NAME --read > out` (slot rings: a framing of cat's own in each
    /// slot; record and broadcast rings: one record per read of stdin).
    Cat {
        /// Shared-memory name or file path of an existing SPSC or record ring.
        name: String,
        /// Copy stdin into the ring, then mark the end of the stream.
        #[arg(long, conflicts_with = "read", required_unless_present = "read")]
        write: bool,
        /// Copy the ring to stdout until the end-of-stream mark.
        #[arg(long)]
        read: bool,
    },
    /// Subscribe to a broadcast ring and print its records, one per line.
    Tail {
        /// Shared-memory name or file path of a broadcast ring.
        name: String,
        /// Start with the last N records already in the ring.
        #[arg(long, default_value_t = 0)]
        back: usize,
        /// Exit after this many records.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Check a file-backed record ring: the longest valid prefix of records
    /// and what recovery would drop (exit 1 if flushed records are damaged).
    Verify {
        /// Path of the ring file.
        file: PathBuf,
    },
    /// The record rows' peer process (started by `bench --records`).
    #[command(name = "__record-peer", hide = true)]
    RecordPeer {
        /// record, broadcast, pipe or dgram.
        mode: String,
        /// The ring's shm name or the socket path.
        place: String,
        /// Records to receive.
        count: u64,
    },
    /// The bench's peer process (started by `bench`, not by hand).
    #[command(name = "__peer", hide = true)]
    Peer {
        /// The row to run, as `bench` encodes it.
        spec: String,
    },
}

fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Bench(args) => bench::run(&args),
        Command::Create {
            name,
            kind,
            capacity,
            slot_size,
            file,
            gated,
            checksums,
            stamped,
            barrier,
        } => {
            let barrier = match barrier {
                BarrierArg::Auto => None,
                BarrierArg::Symmetric => Some(ringway::Barrier::Symmetric),
                BarrierArg::Asymmetric => Some(ringway::Barrier::Asymmetric),
            };
            admin::create(
                name.as_deref(),
                kind.into(),
                admin::Shape {
                    capacity,
                    slot_size,
                    gated,
                    checksums,
                    stamped,
                },
                file,
                barrier,
            )
        }
        Command::Info { name } => admin::info(&name),
        Command::Ls => admin::ls(),
        Command::Rm { name } => object::rm(&name),
        Command::Gc { name, dry_run } => admin::gc(name.as_deref(), dry_run),
        Command::Cat { name, write, read } => {
            debug_assert!(write != read);
            match (records::byte_ring(&name), write) {
                (Some(ring), true) => records::write(&ring),
                (Some(ring), false) => records::read(&ring),
                (None, true) => cat::write(&name),
                (None, false) => cat::read(&name),
            }
        }
        Command::Tail { name, back, count } => records::tail(&name, back, count),
        Command::Verify { file } => records::verify(&file),
        Command::Peer { spec } => bench::peer::run(&spec),
        Command::RecordPeer { mode, place, count } => {
            bench::records::peer_main(&mode, &place, count)
        }
    }
}

fn main() -> ExitCode {
    // Like every Unix filter: a closed stdout (`ringway ls | head`) ends the
    // process quietly instead of a panic on the failed print. Rust sets
    // SIGPIPE to ignored before main.
    // SAFETY: no other thread exists yet; SIG_DFL is a valid disposition.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(msg)) => {
            // One line, whatever the message held.
            let line = msg.replace('\n', "; ");
            eprintln!("ringway: {line}");
            ExitCode::FAILURE
        }
    }
}
