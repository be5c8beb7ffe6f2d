//! [`Ring`]: a validated ring in a region, and the builders that create or
//! open one.
//!
//! A `Ring` is cheap to clone (an `Arc`); the producer and consumer handles of
//! [`spsc`](crate::spsc) each hold one, so the mapping lives as long as any of
//! them. All allocation happens here, at create or open time; pushing and
//! popping never allocate.

use std::fmt;
use std::path::Path;
use std::ptr::NonNull;
use std::sync::Arc;

use bytemuck::Pod;
use ringway_sync::Barrier;

use crate::attach::{self, Expect, TypeFingerprint};
use crate::error::{CreateError, HandleError, OpenError, Role};
use crate::layout::{
    fnv1a, Geometry, Header, Identity, Kind, ABI_VERSION, HEADER_SIZE, LAYOUT_HASH, LINE, MAGIC,
    STATE_READY,
};
use crate::loom::{Ordering, SlotAccess};
use crate::peer::{self, Holder, Peer, PeerInfo, PeerTable, PEERS_OFFSET, PEER_TABLE_SIZE};
use crate::process;
use crate::region::{self, Region, DEFAULT_MODE};

/// The fingerprint that typed rings record for `T`: its size, alignment and
/// the hash of `core::any::type_name::<T>()` (which is not guaranteed stable
/// across compiler versions: give rings shared between builds an explicit
/// [`type_name`](RingBuilder::type_name)).
pub fn fingerprint<T: Pod>() -> TypeFingerprint {
    TypeFingerprint {
        size: size_u32::<T>(),
        align: align_u32::<T>(),
        name_hash: fnv1a(core::any::type_name::<T>().as_bytes()),
    }
}

fn size_u32<T>() -> u32 {
    u32::try_from(core::mem::size_of::<T>()).unwrap_or(u32::MAX)
}

fn align_u32<T>() -> u32 {
    u32::try_from(core::mem::align_of::<T>()).unwrap_or(u32::MAX)
}

/// State shared by every handle of one ring.
pub(crate) struct Shared {
    header: NonNull<Header>,
    peers: NonNull<PeerTable>,
    slots: NonNull<u8>,
    geometry: Geometry,
    identity: Identity,
    /// The ring's barrier mode, from the validated identity copy (never
    /// re-read from the header): passed to every notify and wait.
    pub(crate) barrier: Barrier,
    pub(crate) access: SlotAccess,
    /// The region's SIGBUS poison flag (see `sigbus.rs`).
    poison: crate::sigbus::Poison,
    region: Region,
    #[cfg(loom)]
    _loom_header: Box<Header>,
    #[cfg(loom)]
    _loom_peers: Box<PeerTable>,
}

// SAFETY: `header` and `slots` point into `region`, which `Shared` owns and
// which is Send + Sync; the memory is only accessed through the ring protocols
// (atomics for control words, cursor ownership for slots).
unsafe impl Send for Shared {}
// SAFETY: as above.
unsafe impl Sync for Shared {}

impl Shared {
    /// The mapped header.
    #[inline]
    pub(crate) fn header(&self) -> &Header {
        // SAFETY: `header` points to a whole, aligned header inside `region`
        // (checked at create/open), which lives as long as `self`. Every byte
        // of `Header` is atomic or in an `UnsafeCell`, so a peer writing it
        // does not invalidate the reference.
        unsafe { self.header.as_ref() }
    }

    /// Pointer to the peer table (see `peer`).
    #[inline]
    pub(crate) fn peers_ptr(&self) -> NonNull<PeerTable> {
        self.peers
    }

    /// The ring object, when the region has one (not for caller memory).
    pub(crate) fn region_file(&self) -> Option<&std::fs::File> {
        self.region.file()
    }

    /// The validated geometry.
    pub(crate) fn geometry(&self) -> &Geometry {
        &self.geometry
    }

    /// The owner word of an SPSC role.
    pub(crate) fn role_word(&self, role: Role) -> &crate::loom::AtomicU32 {
        let h = self.header();
        match role {
            Role::Producer => &h.producer_owner,
            Role::Consumer => &h.consumer_owner,
        }
    }

    /// Start of the slot at cursor position `pos`, and its index.
    ///
    /// The index is `pos & (capacity - 1)`, so the pointer is inside the
    /// region whatever value `pos` has.
    #[inline]
    pub(crate) fn slot(&self, pos: u64) -> (*mut u8, usize) {
        let idx = (pos & self.geometry.mask()) as usize;
        // SAFETY: idx < capacity, and capacity * stride bytes follow `slots`
        // inside the region (total_len <= region length, checked on attach).
        let ptr = unsafe { self.slots.as_ptr().add(idx * self.geometry.stride as usize) };
        (ptr, idx)
    }
}

impl Shared {
    /// `msync(MS_SYNC)` of bytes `offset..offset + len` of the region (see
    /// `Region::sync`).
    pub(crate) fn sync(&self, offset: usize, len: usize) -> std::io::Result<()> {
        self.region.sync(offset, len)
    }

    /// Offset of the ring's data from the start of the region.
    pub(crate) fn data_offset(&self) -> usize {
        self.geometry.slots_offset as usize
    }

    /// Bytes of ring data (slots times stride).
    pub(crate) fn data_len(&self) -> usize {
        (self.geometry.capacity * u64::from(self.geometry.stride)) as usize
    }
}

impl Identity {
    /// The identity a creator writes for `geometry` and, for a typed ring,
    /// its message type.
    fn new(
        geometry: &Geometry,
        message: Option<TypeFingerprint>,
        flags: u32,
        barrier: Barrier,
    ) -> Identity {
        let message = message.unwrap_or(TypeFingerprint {
            size: 0,
            align: 0,
            name_hash: 0,
        });
        Identity {
            magic: MAGIC,
            abi_version: ABI_VERSION,
            kind: geometry.kind as u32,
            layout_hash: LAYOUT_HASH,
            capacity: geometry.capacity,
            slot_size: geometry.slot_size,
            slot_align: geometry.slot_align,
            slot_stride: geometry.stride,
            type_size: message.size,
            type_align: message.align,
            flags,
            type_name_hash: message.name_hash,
            slots_offset: geometry.slots_offset,
            total_len: geometry.total_len,
            creator_pid: process::current_pid(),
            barrier: barrier.as_raw(),
            creator_start_time: process::current_start_time(),
        }
    }
}

/// A ring in a region, validated. Clone it to share it between threads; take
/// its producer and consumer handles from [`spsc`](crate::spsc) (or `mpmc`).
#[derive(Clone)]
pub struct Ring {
    pub(crate) shared: Arc<Shared>,
}

impl fmt::Debug for Ring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ring")
            .field("name", &self.name())
            .field("geometry", &self.shared.geometry)
            .finish()
    }
}

/// Cursors and owners read from a ring at one moment, for inspection tools.
/// Peer-written values: informational only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Snapshot {
    /// Producer cursor.
    pub tail: u64,
    /// Consumer cursor.
    pub head: u64,
    /// `tail - head` clamped to `0..=capacity`.
    pub len: u64,
    /// Pid holding the single producer role (SPSC, broadcast), 0 when free
    /// (or its holder left) and for kinds with many producers.
    pub producer_owner: u32,
    /// Pid holding the single consumer role (SPSC, record), 0 when free (or
    /// its holder left) and for kinds with many consumers.
    pub consumer_owner: u32,
    /// Consumers registered as sleeping for data.
    pub data_waiters: u32,
    /// Producers registered as sleeping for space.
    pub space_waiters: u32,
    /// Registered handles, with their liveness.
    pub peers: Vec<PeerInfo>,
    /// MPMC messages lost with consumers that died holding them.
    pub lost: u64,
    /// Dead registrations cleaned up so far.
    pub reaped: u64,
}

impl Ring {
    /// Opens the named shm ring with default options (any kind, bytes or any type).
    ///
    /// # Errors
    /// See [`OpenOptions::open_shm`].
    #[cfg(not(loom))]
    pub fn open_shm(name: &str) -> Result<Ring, OpenError> {
        OpenOptions::new().open_shm(name)
    }

    /// Opens the file-backed ring at `path` with default options.
    ///
    /// # Errors
    /// See [`OpenOptions::open_file`].
    #[cfg(not(loom))]
    pub fn open_file(path: impl AsRef<Path>) -> Result<Ring, OpenError> {
        OpenOptions::new().open_file(path)
    }

    /// Removes the shm name of a ring (see [`region::remove_shm`]).
    ///
    /// # Errors
    /// `InvalidInput` for a bad name, `NotFound` when there is none.
    pub fn remove_shm(name: &str) -> std::io::Result<()> {
        region::remove_shm(name)
    }

    /// The ring's barrier mode, fixed at creation (see [`RingBuilder::barrier`]).
    pub fn barrier(&self) -> Barrier {
        self.shared.barrier
    }

    /// The validated geometry.
    pub fn geometry(&self) -> &Geometry {
        &self.shared.geometry
    }

    /// The identity copied and validated on attach.
    pub fn identity(&self) -> &Identity {
        &self.shared.identity
    }

    /// SPSC or MPMC.
    pub fn kind(&self) -> Kind {
        self.shared.geometry.kind
    }

    /// Number of slots.
    pub fn capacity(&self) -> u64 {
        self.shared.geometry.capacity
    }

    /// Payload bytes per slot.
    pub fn slot_size(&self) -> usize {
        self.shared.geometry.slot_size as usize
    }

    /// The shm name or file path, if the ring has one.
    pub fn name(&self) -> Option<&str> {
        self.shared.region.name()
    }

    /// The event consumers wait on for data and producers notify after
    /// publishing (in the mapped header). For waiters outside the blocking
    /// calls, such as `ringway-async`'s readiness fd
    /// ([`ringway_sync::ExternalWaiter`]); its words are peer-written hints.
    pub fn data_event(&self) -> &ringway_sync::Event {
        &self.shared.header().data_event
    }

    /// The event producers wait on for space and consumers notify after
    /// releasing slots. See [`data_event`](Self::data_event).
    pub fn space_event(&self) -> &ringway_sync::Event {
        &self.shared.header().space_event
    }

    /// Whether a truncation of the ring's object was caught (SIGBUS turned
    /// into zero pages, see the `sigbus` module): every operation fails with
    /// a [`CorruptError`](crate::CorruptError) from then on.
    pub fn is_poisoned(&self) -> bool {
        self.shared.poison.is_set()
    }

    /// The poison flag (and fork count), for a handle's core to check on
    /// every operation against [`forks`](Self::forks) as it attached
    /// (`sigbus.rs`).
    pub(crate) fn poison(&self) -> crate::sigbus::Poison {
        self.shared.poison
    }

    /// The forks the mapping went through in this process's lineage
    /// (`sigbus.rs`): a handle keeps the count it attached at, and a
    /// `fork`ed copy of it sees another.
    pub(crate) fn forks(&self) -> u32 {
        self.shared.poison.forks()
    }

    /// `Err` once the ring was poisoned by a caught truncation.
    #[inline]
    pub(crate) fn check_poison(&self) -> Result<(), crate::CorruptError> {
        if self.shared.poison.is_set() {
            return Err(crate::sigbus::truncated());
        }
        Ok(())
    }

    /// `e`, or the truncation error when the ring was poisoned meanwhile
    /// (the value behind `e` came from a zero page the SIGBUS handler
    /// mapped): for cores that build their errors before they know.
    #[cold]
    pub(crate) fn explain(&self, e: crate::CorruptError) -> crate::CorruptError {
        self.check_poison().err().unwrap_or(e)
    }

    /// The error for an impossible value read from the ring: the truncation
    /// error when the ring was poisoned (the value came from a zero page the
    /// SIGBUS handler mapped), else `what` and `value`.
    #[cold]
    pub(crate) fn corrupt(&self, what: &'static str, value: u64) -> crate::CorruptError {
        match self.check_poison() {
            Err(e) => e,
            Ok(()) => crate::CorruptError { what, value },
        }
    }

    /// Reads the cursors, owners and waiters once.
    pub fn snapshot(&self) -> Snapshot {
        let h = self.shared.header();
        // Relaxed throughout: an informational snapshot, ordered with nothing.
        let tail = h.tail.load(Ordering::Relaxed);
        let head = h.head.load(Ordering::Relaxed);
        let len = tail.saturating_sub(head).min(self.capacity());
        let owner = |role| {
            let word = self.shared.role_word(role).load(Ordering::Relaxed);
            match self.shared.holder(word) {
                Holder::Alive { pid } => pid,
                Holder::Dead { index } => self.shared.peers().entries[index]
                    .pid
                    .load(Ordering::Relaxed),
                Holder::Gone => 0,
            }
        };
        let table = self.shared.peers();
        Snapshot {
            tail,
            head,
            len,
            producer_owner: owner(Role::Producer),
            consumer_owner: owner(Role::Consumer),
            data_waiters: h.data_event.waiters(),
            space_waiters: h.space_event.waiters(),
            peers: self.shared.peer_infos(),
            lost: table.lost.load(Ordering::Relaxed),
            reaped: table.reaped.load(Ordering::Relaxed),
        }
    }

    /// The registered handles and whether each lives.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.peer_infos()
    }

    /// Whether the holder of peer entry `index` lives: one `F_OFD_GETLK`
    /// for an entry with a liveness token, pid + start time otherwise (see
    /// [`peer`](crate::peer)).
    pub fn peer_liveness(&self, index: usize) -> crate::peer::Liveness {
        self.shared.liveness(index)
    }

    /// Cleans up after every registered handle whose process died (its
    /// waiter registrations, MPMC claims and SPSC role). Returns how many.
    /// Blocking and full/empty calls do this on their own; this is for tools.
    pub fn reap_dead(&self) -> usize {
        let lock = self.lock_file();
        self.shared.reap_all(lock.as_deref())
    }

    /// MPMC messages lost because a consumer died between claiming and
    /// releasing them (counted when the reaper frees their slots).
    pub fn lost(&self) -> u64 {
        // Relaxed: a counter.
        self.shared.peers().lost.load(Ordering::Relaxed)
    }

    /// A description of our own for exclusive reaping locks.
    fn lock_file(&self) -> Option<peer::Token> {
        self.shared.region_file().and_then(|f| peer::reopen(f).ok())
    }

    /// Frees a single role (an SPSC role, the record ring's consumer, the
    /// broadcast ring's producer) whose holder died without dropping its
    /// handle (attaching does this on its own; this is the explicit form).
    /// Returns whether the role was freed.
    ///
    /// # Errors
    /// [`HandleError::RoleTaken`] when the holder is alive.
    pub fn reclaim_role(&self, role: Role) -> Result<bool, HandleError> {
        let word = self.shared.role_word(role);
        // Acquire: pairs with the holder's claim of the role.
        let held = word.load(Ordering::Acquire);
        if held == 0 {
            return Ok(false);
        }
        match self.shared.holder(held) {
            Holder::Alive { pid } => Err(HandleError::RoleTaken { role, pid }),
            Holder::Dead { index } => {
                let lock = self.lock_file();
                self.shared.reap(index, lock.as_deref());
                // The reaper freed the role if the word still named the dead
                // registration.
                // Acquire: as above.
                Ok(word.load(Ordering::Acquire) != held)
            }
            Holder::Gone => {
                // AcqRel: pairs with the next holder's Acquire claim.
                Ok(word
                    .compare_exchange(held, 0, Ordering::AcqRel, Ordering::Relaxed)
                    .is_ok())
            }
        }
    }

    #[cfg(not(loom))]
    /// Sets up a ring over a fresh region: writes the identity, then
    /// publishes READY.
    fn init(
        region: Region,
        geometry: Geometry,
        message: Option<TypeFingerprint>,
        flags: u32,
        barrier: Barrier,
        zero_header: bool,
    ) -> Ring {
        let header = region.as_ptr().cast::<Header>();
        if zero_header {
            // SAFETY: the region is at least total_len >= HEADER_SIZE bytes
            // (checked by the caller) and nobody else uses it yet.
            unsafe { core::ptr::write_bytes(region.as_ptr(), 0, HEADER_SIZE) };
            // Line 0 with the magic and STATE_INIT, as a named object's
            // creator writes it first (`region::write_creation_line`).
            let line = crate::probe::creation_line();
            // SAFETY: as above; LINE <= HEADER_SIZE bytes, and `line` is ours.
            unsafe {
                core::ptr::copy_nonoverlapping(line.as_ptr(), region.as_ptr(), line.len());
            }
            // SAFETY: the peer table follows the header inside total_len.
            unsafe {
                core::ptr::write_bytes(region.as_ptr().add(PEERS_OFFSET), 0, PEER_TABLE_SIZE)
            };
            if geometry.kind == Kind::Mpmc || geometry.stamped {
                // MPMC and stamped-SPSC stamps must start at 0 (free for lap
                // 0, see `mpmc`; not ready, see `spsc`); fresh shm, files and
                // anonymous maps are zero already.
                for idx in 0..geometry.capacity {
                    let at = geometry.slots_offset + idx * u64::from(geometry.stride);
                    // SAFETY: at + 8 <= total_len <= region length; 8-aligned
                    // (slots_offset and the stamped stride are); nobody else uses
                    // the region yet.
                    unsafe { region.as_ptr().add(at as usize).cast::<u64>().write(0) };
                }
            }
            if matches!(geometry.kind, Kind::Record | Kind::Broadcast) {
                // Record stamps must start at 0 (nothing committed, see
                // `record`); fresh shm, files and anonymous maps are zero already.
                // SAFETY: slots_offset + capacity = total_len <= region
                // length; nobody else uses the region yet.
                unsafe {
                    core::ptr::write_bytes(
                        region.as_ptr().add(geometry.slots_offset as usize),
                        0,
                        geometry.capacity as usize,
                    )
                };
            }
        }
        let identity = Identity::new(&geometry, message, flags, barrier);
        // SAFETY: `header` is the aligned start of a region of at least
        // HEADER_SIZE bytes that no peer uses before READY is published.
        unsafe { core::ptr::write_volatile((*header).identity_ptr(), identity) };
        // SAFETY: as above; `state` is an atomic.
        let state = unsafe { &(*header).state };
        // Release: publishes the identity; pairs with the Acquire load of
        // `state` in `attach::validate`.
        state.store(STATE_READY, Ordering::Release);
        Ring::from_parts(region, identity, geometry)
    }

    #[cfg(not(loom))]
    fn from_parts(region: Region, identity: Identity, geometry: Geometry) -> Ring {
        let base = region.as_ptr();
        // SAFETY: slots_offset < total_len <= region length.
        let slots = unsafe { base.add(geometry.slots_offset as usize) };
        Ring {
            shared: Arc::new(Shared {
                // SAFETY: base is non-null (a region's pointer).
                header: unsafe { NonNull::new_unchecked(base.cast::<Header>()) },
                // SAFETY: PEERS_OFFSET + PEER_TABLE_SIZE <= slots_offset <
                // total_len <= region length; 128-aligned (base is).
                peers: unsafe {
                    NonNull::new_unchecked(base.add(PEERS_OFFSET).cast::<PeerTable>())
                },
                // SAFETY: derived from a non-null base by an in-bounds offset.
                slots: unsafe { NonNull::new_unchecked(slots) },
                geometry,
                identity,
                // A validated identity's barrier word is a known mode
                // (`attach::check_identity`; the creator wrote it).
                barrier: Barrier::from_raw(identity.barrier).unwrap_or(Barrier::Symmetric),
                access: SlotAccess::new(geometry.capacity as usize),
                poison: region.poison_flag(),
                region,
            }),
        }
    }

    #[cfg(not(loom))]
    fn attach(region: Region, expect: &Expect) -> Result<Ring, OpenError> {
        if region.as_ptr() as usize % LINE != 0 {
            return Err(OpenError::BadGeometry {
                field: "region address",
                found: region.as_ptr() as u64,
                expected: None,
            });
        }
        // SAFETY: the region is mapped, 128-aligned and `len` bytes long.
        let (identity, geometry) =
            unsafe { attach::validate(region.as_ptr().cast(), region.len() as u64, expect) }?;
        Ok(Ring::from_parts(region, identity, geometry))
    }

    /// Takes a single role of a `kind` ring (an SPSC role, the record
    /// ring's consumer, the broadcast ring's producer: `peer::single_role`)
    /// for the registration `peer`: CAS the owner word from 0 to the registration's word, or from
    /// a dead holder's (taking the role over, after reaping it).
    pub(crate) fn claim_role(
        &self,
        role: Role,
        peer: &Peer,
        kind: Kind,
    ) -> Result<(), HandleError> {
        if self.kind() != kind || !crate::peer::single_role(kind, role) {
            return Err(HandleError::WrongKind {
                found: self.kind(),
                expected: kind,
            });
        }
        let word = self.shared.role_word(role);
        let mine = peer.word();
        // Acquire: pairs with the holder's claim (a live one is seen).
        let mut held = word.load(Ordering::Acquire);
        // Bounded: each round either claims, reports a live holder, or finds
        // the word changed by another claimant or a reaper.
        for _ in 0..64 {
            if held != 0 {
                match self.shared.holder(held) {
                    Holder::Alive { pid } => return Err(HandleError::RoleTaken { role, pid }),
                    Holder::Dead { index } => {
                        self.shared.reap(index, peer.lock());
                    }
                    Holder::Gone => {}
                }
            }
            // AcqRel on success: Acquire pairs with the previous holder's
            // Release in `release_role` (or the reaper's), so its last cursor
            // store is visible to us. Acquire on failure: the new holder.
            match word.compare_exchange(held, mine, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => {
                    peer.took_role(role);
                    return Ok(());
                }
                Err(now) => held = now,
            }
        }
        Err(HandleError::RoleTaken {
            role,
            pid: match self.shared.holder(held) {
                Holder::Alive { pid } => pid,
                _ => 0,
            },
        })
    }

    /// Gives a single role back (on handle drop), if `peer` still holds it
    /// and is not a `fork`ed copy.
    pub(crate) fn release_role(&self, role: Role, peer: &Peer) {
        if !peer.owned() {
            // A `fork`ed copy of the handle: the role is the parent's.
            return;
        }
        // Release: orders our last cursor store before the next holder's
        // Acquire claim. Relaxed on failure: someone reclaimed it; nothing to do.
        let _ = self.shared.role_word(role).compare_exchange(
            peer.word(),
            0,
            Ordering::Release,
            Ordering::Relaxed,
        );
    }
}

/// Parameters of a new ring.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use ringway::{RingBuilder, Kind};
/// let ring = RingBuilder::new(Kind::Spsc).capacity(4096).message::<u64>().create_shm("/ticks")?;
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct RingBuilder {
    kind: Kind,
    capacity: u64,
    slot_size: u32,
    slot_align: u32,
    message: Option<TypeFingerprint>,
    flags: u32,
    mode: u32,
    unlink_on_drop: bool,
    barrier: Option<Barrier>,
}

impl RingBuilder {
    /// A ring of `kind` with 1024 slots of 64 bytes aligned to 8; for
    /// [`Kind::Record`], a byte ring of 64 KiB (`capacity` counts bytes, the
    /// slot geometry is fixed: see [`record`](crate::record)).
    pub fn new(kind: Kind) -> RingBuilder {
        let (capacity, slot_size, slot_align) = match kind {
            Kind::Record | Kind::Broadcast => (
                1 << 16,
                crate::record::RECORD_SLOT_SIZE as u32,
                crate::record::RECORD_ALIGN as u32,
            ),
            Kind::Spsc | Kind::Mpmc => (1024, 64, 8),
        };
        RingBuilder {
            kind,
            capacity,
            slot_size,
            slot_align,
            message: None,
            flags: 0,
            mode: DEFAULT_MODE,
            unlink_on_drop: false,
            barrier: None,
        }
    }

    /// For a [`Kind::Broadcast`] ring: the producer waits for the slowest
    /// live subscriber (`true`) or never waits and laps slow subscribers
    /// (`false`, the default). Ignored by the other kinds.
    pub fn gated(mut self, gated: bool) -> Self {
        self.flags &= !crate::layout::FLAG_GATED;
        if gated && self.kind == Kind::Broadcast {
            self.flags |= crate::layout::FLAG_GATED;
        }
        self
    }

    /// For a [`Kind::Record`] ring: every data record carries a CRC32C of
    /// its position, length and payload, written on commit and checked on
    /// read and by [`record::recover`](crate::record::recover) (default:
    /// off). Ignored by the other kinds.
    pub fn checksums(mut self, on: bool) -> Self {
        self.flags &= !crate::layout::FLAG_CRC32C;
        if on && self.kind == Kind::Record {
            self.flags |= crate::layout::FLAG_CRC32C;
        }
        self
    }

    /// For a [`Kind::Spsc`] ring: stamped slots (`true`), each
    /// `[stamp u64 | payload]`, so that a consumer learns of a message from
    /// the message's own cache line (the lowest round-trip latency), or
    /// contiguous payloads (`false`, the default), whose chunks lend plain
    /// slices (`as_slices`, the C chunk pointers) and whose batches move the
    /// fewest bytes. See [`spsc`](crate::spsc) for the numbers. Ignored by
    /// the other kinds.
    pub fn stamped(mut self, on: bool) -> Self {
        self.flags &= !crate::layout::FLAG_STAMPED;
        if on && self.kind == Kind::Spsc {
            self.flags |= crate::layout::FLAG_STAMPED;
        }
        self
    }

    /// Number of slots: a power of two from 2 to 2^32.
    pub fn capacity(mut self, slots: u64) -> Self {
        self.capacity = slots;
        self
    }

    /// Payload bytes per slot (a bytes ring).
    pub fn slot_size(mut self, bytes: u32) -> Self {
        self.slot_size = bytes;
        self.message = None;
        self
    }

    /// Alignment of each slot's payload (a power of two up to 4096).
    pub fn slot_align(mut self, align: u32) -> Self {
        self.slot_align = align;
        self
    }

    /// A typed ring of `T`: slot size and alignment are `T`'s, and the ring
    /// records `T`'s [`fingerprint`] so that openers expecting another type
    /// are refused.
    pub fn message<T: Pod>(mut self) -> Self {
        let fp = fingerprint::<T>();
        self.slot_size = fp.size;
        self.slot_align = fp.align;
        self.message = Some(fp);
        self
    }

    /// Records `name` instead of the Rust type name in the fingerprint (for
    /// rings shared with other builds or languages). Call after [`message`](Self::message).
    pub fn type_name(mut self, name: &str) -> Self {
        if let Some(fp) = &mut self.message {
            fp.name_hash = fnv1a(name.as_bytes());
        }
        self
    }

    /// Permission bits of a created shm object or file (default 0600).
    /// `create_shm` and `create_file` refuse, with
    /// [`CreateError::InvalidMode`], bits outside `0o777` (set-id, sticky)
    /// and modes without owner read and write.
    pub fn mode(mut self, mode: u32) -> Self {
        self.mode = mode;
        self
    }

    /// Whether dropping the last handle of the created ring removes its name or
    /// file (default false: remove explicitly with [`Ring::remove_shm`]).
    pub fn unlink_on_drop(mut self, yes: bool) -> Self {
        self.unlink_on_drop = yes;
        self
    }

    fn check_mode(&self) -> Result<(), CreateError> {
        if self.mode & !0o777 != 0 || self.mode & 0o600 != 0o600 {
            return Err(CreateError::InvalidMode { mode: self.mode });
        }
        Ok(())
    }

    /// The geometry these parameters give.
    ///
    /// # Errors
    /// The first parameter that cannot be laid out.
    pub fn geometry(&self) -> Result<Geometry, crate::layout::LayoutError> {
        Geometry::with_flags(
            self.kind,
            self.flags,
            self.capacity,
            self.slot_size,
            self.slot_align,
        )
    }

    /// The ring's [`Barrier`] mode: how its notifiers and waiters pay for the
    /// wait/notify handshake, fixed for the ring's life and shared by every
    /// process that opens it. The default is [`Barrier::best_available`]:
    /// asymmetric where this process can register for `membarrier`, else
    /// symmetric. Choose [`Barrier::Symmetric`] when the ring will be shared
    /// with processes that cannot register (they would be refused an
    /// asymmetric ring), or when other latency-sensitive work shares the
    /// host's CPUs (each asymmetric park interrupts them; see the README).
    pub fn barrier(mut self, barrier: Barrier) -> Self {
        self.barrier = Some(barrier);
        self
    }

    /// The barrier mode a ring created now gets.
    #[cfg(not(loom))]
    fn chosen_barrier(&self) -> Result<Barrier, CreateError> {
        match self.barrier {
            None => Ok(Barrier::best_available()),
            Some(b) if b.available() => Ok(b),
            Some(_) => Err(CreateError::BarrierUnavailable),
        }
    }

    /// Creates the ring in a new shm object `name` (`/something`); fails if
    /// the name exists.
    ///
    /// # Errors
    /// [`CreateError`]: a bad name, an existing object, bad parameters, no
    /// space in `/dev/shm`, or a failed system call.
    #[cfg(not(loom))]
    pub fn create_shm(&self, name: &str) -> Result<Ring, CreateError> {
        self.create_named(|len, mode| region::create_shm(name, len, mode))
    }

    /// Creates the ring in a new file at `path` (never following a symlink).
    ///
    /// # Errors
    /// As [`create_shm`](Self::create_shm).
    #[cfg(not(loom))]
    pub fn create_file(&self, path: impl AsRef<Path>) -> Result<Ring, CreateError> {
        self.create_named(|len, mode| region::create_file(path.as_ref(), len, mode))
    }

    /// The one creation path of the named kinds (shm and file): checks the
    /// parameters, makes the region with `make(total_len, mode)` and
    /// initialises the ring in it.
    #[cfg(not(loom))]
    fn create_named(
        &self,
        make: impl FnOnce(u64, u32) -> Result<Region, CreateError>,
    ) -> Result<Ring, CreateError> {
        let geometry = self.geometry()?;
        self.check_mode()?;
        let barrier = self.chosen_barrier()?;
        let mut region = make(geometry.total_len, self.mode)?;
        if self.unlink_on_drop {
            region.unlink_on_drop();
        }
        Ok(Ring::init(
            region,
            geometry,
            self.message,
            self.flags,
            barrier,
            false,
        ))
    }

    /// Creates the ring in an anonymous shared mapping, for threads and for
    /// children `fork`ed after this call.
    ///
    /// # Errors
    /// Bad parameters, no memory, or a failed system call.
    #[cfg(not(loom))]
    pub fn create_anonymous(&self) -> Result<Ring, CreateError> {
        let geometry = self.geometry()?;
        let barrier = self.chosen_barrier()?;
        let region = region::create_anonymous(geometry.total_len)?;
        Ok(Ring::init(
            region,
            geometry,
            self.message,
            self.flags,
            barrier,
            false,
        ))
    }

    /// Creates the ring in memory the caller provides, overwriting its header.
    ///
    /// # Errors
    /// Bad parameters, memory shorter than [`geometry`](Self::geometry)'s
    /// `total_len`, or not aligned to 128.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes for as long as
    /// the ring or any handle of it lives, and every other user of that memory
    /// must follow the ring protocol.
    #[cfg(not(loom))]
    pub unsafe fn create_in(&self, ptr: NonNull<u8>, len: usize) -> Result<Ring, CreateError> {
        let geometry = self.geometry()?;
        let barrier = self.chosen_barrier()?;
        if (len as u64) < geometry.total_len {
            return Err(CreateError::RegionTooSmall {
                need: geometry.total_len,
                have: len as u64,
            });
        }
        if ptr.as_ptr() as usize % LINE != 0 {
            return Err(CreateError::Misaligned {
                address: ptr.as_ptr() as usize,
            });
        }
        // SAFETY: the caller's promise.
        let region = unsafe { Region::from_raw_parts(ptr, len) };
        Ok(Ring::init(
            region,
            geometry,
            self.message,
            self.flags,
            barrier,
            true,
        ))
    }

    /// Creates the ring on the heap for a loom model: loom atomics cannot live
    /// in a mapping, so the header is a boxed `Header` with loom atomics.
    ///
    /// # Panics
    /// When the parameters cannot be laid out.
    #[cfg(loom)]
    pub fn create_heap(&self) -> Ring {
        let geometry = self.geometry().expect("loom model parameters");
        let region = Region::heap(geometry.total_len as usize);
        let header = Header::zeroed_boxed();
        let peers = PeerTable::zeroed_boxed();
        let identity = Identity::new(&geometry, None, self.flags, Barrier::Symmetric);
        let base = region.as_ptr();
        Ring {
            shared: Arc::new(Shared {
                header: NonNull::from(&*header),
                peers: NonNull::from(&*peers),
                // SAFETY: slots_offset < total_len = region length.
                slots: unsafe { NonNull::new_unchecked(base.add(geometry.slots_offset as usize)) },
                geometry,
                identity,
                barrier: Barrier::Symmetric,
                access: SlotAccess::new(geometry.capacity as usize),
                poison: region.poison_flag(),
                region,
                _loom_header: header,
                _loom_peers: peers,
            }),
        }
    }
}

/// How to open an existing ring: what to expect of it.
#[derive(Clone, Debug, Default)]
pub struct OpenOptions {
    expect: Expect,
    allow_other_owner: bool,
    wait_for_creator: std::time::Duration,
}

impl OpenOptions {
    /// Any kind, any message type, owned by this user.
    pub fn new() -> OpenOptions {
        OpenOptions::default()
    }

    /// Refuse a ring of another kind with [`OpenError::WrongKind`].
    pub fn kind(mut self, kind: Kind) -> Self {
        self.expect.kind = Some(kind);
        self
    }

    /// Refuse a ring whose slots do not fit `T`, or whose recorded type name
    /// differs, with [`OpenError::TypeMismatch`].
    pub fn message<T: Pod>(mut self) -> Self {
        self.expect.message = Some(fingerprint::<T>());
        self
    }

    /// Expect the type name given to [`RingBuilder::type_name`]. Call after
    /// [`message`](Self::message).
    pub fn type_name(mut self, name: &str) -> Self {
        if let Some(fp) = &mut self.expect.message {
            fp.name_hash = fnv1a(name.as_bytes());
        }
        self
    }

    /// Accept a ring owned by another user (default: refuse with
    /// [`OpenError::WrongOwner`]).
    pub fn allow_other_owner(mut self, yes: bool) -> Self {
        self.allow_other_owner = yes;
        self
    }

    /// When the ring does not exist yet, is still being sized, or its creator
    /// has not published READY (`NotFound`, `TooSmall`, `NotReady`), retry
    /// for up to `timeout` before giving up (default: no retry). A creator
    /// makes the name, writes line 0 of the header (magic and an
    /// initialising state), sizes it, then writes the rest: an opener
    /// started at the same time can see any of those steps. A foreign object
    /// (one that does not start with the magic) is `BadMagic` at once and is
    /// not waited for; an empty one is (it may be a creator between its
    /// `open` and its first write). `Duration::MAX` waits for ever.
    pub fn wait_for_creator(mut self, timeout: std::time::Duration) -> Self {
        self.wait_for_creator = timeout;
        self
    }

    /// Runs `open` once, and again every millisecond while it fails in a way
    /// that a creator still at work explains, until `wait_for_creator` passes.
    #[cfg(not(loom))]
    fn retrying(
        &self,
        mut open: impl FnMut() -> Result<Ring, OpenError>,
    ) -> Result<Ring, OpenError> {
        // No deadline (wait for ever) when the timeout does not fit an
        // Instant, such as Duration::MAX.
        let deadline = std::time::Instant::now().checked_add(self.wait_for_creator);
        loop {
            match open() {
                Err(
                    OpenError::NotFound { .. }
                    | OpenError::TooSmall { .. }
                    | OpenError::NotReady { .. },
                ) if deadline.is_none_or(|d| std::time::Instant::now() < d) => {
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                result => return result,
            }
        }
    }

    /// Opens the shm ring `name`.
    ///
    /// # Errors
    /// [`OpenError`]: a bad or missing name, an object that is not a regular
    /// file or not ours, or a header that fails validation.
    #[cfg(not(loom))]
    pub fn open_shm(&self, name: &str) -> Result<Ring, OpenError> {
        self.retrying(|| {
            let region = region::open_shm(name, self.allow_other_owner)?;
            Ring::attach(region, &self.expect)
        })
    }

    /// Opens the file-backed ring at `path` (never following a symlink).
    ///
    /// # Errors
    /// As [`open_shm`](Self::open_shm).
    #[cfg(not(loom))]
    pub fn open_file(&self, path: impl AsRef<Path>) -> Result<Ring, OpenError> {
        self.retrying(|| {
            let region = region::open_file(path.as_ref(), self.allow_other_owner)?;
            Ring::attach(region, &self.expect)
        })
    }

    /// Opens a ring in memory the caller provides (created by
    /// [`RingBuilder::create_in`] or by a peer).
    ///
    /// # Errors
    /// A header that fails validation.
    ///
    /// # Safety
    /// As [`RingBuilder::create_in`].
    #[cfg(not(loom))]
    pub unsafe fn open_in(&self, ptr: NonNull<u8>, len: usize) -> Result<Ring, OpenError> {
        // SAFETY: the caller's promise.
        let region = unsafe { Region::from_raw_parts(ptr, len) };
        Ring::attach(region, &self.expect)
    }
}

/// Checks that `T` fits the ring's slots exactly (size equal, alignment no
/// stricter than the slots').
pub(crate) fn check_message<T: Pod>(ring: &Ring) -> Result<(), HandleError> {
    let g = ring.geometry();
    let want = (size_u32::<T>(), align_u32::<T>());
    if want.0 != g.slot_size || want.1 > g.slot_align || core::mem::size_of::<T>() == 0 {
        return Err(HandleError::TypeMismatch {
            slot: (g.slot_size, g.slot_align),
            requested: want,
        });
    }
    Ok(())
}
