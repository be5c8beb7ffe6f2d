//! `ringway-bridge`: carry a ringway ring's messages over Zenoh.
//!
//! ```text
//! ringway-bridge out <ring> [--key K] [--listen E].. [--connect E].. [--framing whole|len-prefixed]
//! ringway-bridge in  <ring> [--key K] [--listen E].. [--connect E].. [--queue N]
//! ```
//!
//! Events (a source seen, a gap, duplicates dropped, a stall) go to stdout,
//! one line each, prefixed with the command; the last line is a summary.
//! Exit status: 0 done, 1 error, 3 (`in`) some messages were lost or
//! rejected.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ringway::Ring;
use ringway_bridge::acks::{Acker, Acks};
use ringway_bridge::inbound::{self, InOptions};
use ringway_bridge::out::{self, OutOptions};
use ringway_bridge::ring_end::{Sink, Source};
use ringway_bridge::wire::Framing;
use ringway_bridge::zconf::{self, Endpoints};

#[derive(Debug, Parser)]
#[command(
    name = "ringway-bridge",
    version,
    about = "Bridge ringway rings over Zenoh"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Args)]
struct Common {
    /// The local ring: a shm name (`jobs` or `/jobs`) or a file path
    /// (anything with a `/` after its first character).
    ring: String,
    /// The Zenoh key (default `ringway/<ring name>`).
    #[arg(long)]
    key: Option<String>,
    /// Zenoh endpoint to listen on, e.g. `tcp/127.0.0.1:7447` (repeatable).
    #[arg(long)]
    listen: Vec<String>,
    /// Zenoh endpoint to connect to, e.g. `tcp/127.0.0.1:7447` (repeatable).
    #[arg(long)]
    connect: Vec<String>,
    /// Stop after this many messages.
    #[arg(long)]
    count: Option<u64>,
    /// No acknowledgements (`in` sends none; an SPSC `out` consumes each
    /// message once sent, as MPMC always does: at most once, gaps reported).
    #[arg(long)]
    no_ack: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FramingArg {
    /// The whole slot travels.
    Whole,
    /// The slot starts with a u32 LE length; only that many bytes travel.
    LenPrefixed,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Drain a local ring and publish each message on the key.
    Out {
        #[command(flatten)]
        common: Common,
        /// How a slot maps to the bytes sent.
        #[arg(long, value_enum, default_value = "whole")]
        framing: FramingArg,
        /// Most messages taken from the ring at once.
        #[arg(long, default_value_t = 64)]
        batch: usize,
        /// Send each message at once (Zenoh express) instead of batching.
        #[arg(long)]
        express: bool,
    },
    /// Subscribe to the key and write each message into a local ring.
    In {
        #[command(flatten)]
        common: Common,
        /// Samples held between Zenoh and the ring; when full, Zenoh's
        /// receive path (and so the sender) blocks.
        #[arg(long, default_value_t = 256)]
        queue: usize,
    },
}

/// The ring named by `arg` (the CLI's rule: a `/` after the first character
/// or a leading `.` means a file).
fn open_ring(arg: &str) -> Result<(Ring, String), String> {
    if arg.is_empty() {
        return Err("the ring name is empty".into());
    }
    let opened = if arg[1..].contains('/') || arg.starts_with('.') {
        let path = PathBuf::from(arg);
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ring::open_file(&path).map(|r| (r, name))
    } else {
        let name = arg.trim_start_matches('/');
        Ring::open_shm(&format!("/{name}")).map(|r| (r, name.to_owned()))
    };
    opened.map_err(|e| format!("cannot open ring {arg:?}: {e}"))
}

fn run(cli: Cli) -> Result<ExitCode, String> {
    let stop = AtomicBool::new(false);
    match cli.command {
        Command::Out {
            common,
            framing,
            batch,
            express,
        } => {
            let (ring, name) = open_ring(&common.ring)?;
            let key = common.key.unwrap_or(format!("ringway/{name}"));
            let mut source = Source::attach(&ring).map_err(|e| e.to_string())?;
            let id = out::source_id(&source, &ring, &key);
            let endpoints = Endpoints {
                listen: common.listen,
                connect: common.connect,
            };
            let session = zconf::open(&endpoints).map_err(|e| format!("zenoh: {e}"))?;
            let publisher =
                out::declare_publisher(&session, &key, express).map_err(|e| e.to_string())?;
            let acks = match (common.no_ack, source.position()) {
                (false, Some(_)) => {
                    Some(Acks::declare(&session, &key, id).map_err(|e| e.to_string())?)
                }
                _ => None,
            };
            let options = OutOptions {
                framing: match framing {
                    FramingArg::Whole => Framing::Whole,
                    FramingArg::LenPrefixed => Framing::LenPrefixed,
                },
                batch: batch.max(1),
                count: common.count,
            };
            println!("out: ready ring={} key={key}", common.ring);
            let mut log = |line: String| println!("out: {line}");
            let stats = out::run(
                &mut source,
                id,
                &publisher,
                acks.as_ref(),
                &options,
                &stop,
                &mut log,
            )
            .map_err(|e| e.to_string())?;
            // Closing flushes what Zenoh still queues before the process ends.
            drop(publisher);
            use zenoh::Wait;
            session.close().wait().map_err(|e| format!("zenoh: {e}"))?;
            println!(
                "out: summary published={} malformed={}",
                stats.published, stats.malformed
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::In { common, queue } => {
            let (ring, name) = open_ring(&common.ring)?;
            let key = common.key.unwrap_or(format!("ringway/{name}"));
            let mut sink = Sink::attach(&ring).map_err(|e| e.to_string())?;
            let endpoints = Endpoints {
                listen: common.listen,
                connect: common.connect,
            };
            let session = zconf::open(&endpoints).map_err(|e| format!("zenoh: {e}"))?;
            let subscriber =
                inbound::declare_subscriber(&session, &key, queue).map_err(|e| e.to_string())?;
            let mut acker = if common.no_ack {
                None
            } else {
                Some(Acker::declare(&session, &key).map_err(|e| e.to_string())?)
            };
            let options = InOptions {
                count: common.count,
                stall_report: Duration::from_secs(1),
            };
            println!("in: ready ring={} key={key}", common.ring);
            let mut log = |line: String| println!("in: {line}");
            let stats = inbound::run(
                &mut sink,
                &subscriber,
                acker.as_mut(),
                &options,
                &stop,
                &mut log,
            )
            .map_err(|e| e.to_string())?;
            println!(
                "in: summary delivered={} lost={} duplicates={} rejected={}",
                stats.delivered, stats.lost, stats.duplicates, stats.rejected
            );
            Ok(if stats.lost + stats.rejected > 0 {
                ExitCode::from(3)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ringway-bridge: {e}");
            ExitCode::FAILURE
        }
    }
}
