//! Regions: the memory a ring lives in.
//!
//! | region | create | open | lifetime |
//! |---|---|---|---|
//! | named POSIX shm (`/name`) | `shm_open(O_CREAT\|O_EXCL)`, mode 0600, `ftruncate` + `posix_fallocate` | `shm_open`, `fstat` checks, then map | until [`remove_shm`] (or the creator's unlink-on-drop) |
//! | file (any path) | `open(O_CREAT\|O_EXCL\|O_NOFOLLOW)`, same sizing | `open(O_NOFOLLOW)`, same checks | the file's; data persists across restarts |
//! | anonymous | `memfd_create`, sealed against shrink and grow | inherited by `fork`, shared by threads | the last mapping's |
//! | caller's memory | `unsafe`, pointer + length | `unsafe`, pointer + length | the caller's |
//!
//! `posix_fallocate` makes the filesystem reserve every page at create time,
//! so a full `/dev/shm` is an error from `create`, never a SIGBUS on the first
//! write to a slot. Before sizing, the creator `pwrite`s line 0 of the header
//! (magic, `STATE_INIT`, its pid), so an object never looks like anything but
//! a ring from its first byte. On open, `fstat` and a `pread` of the header
//! come before `mmap`: the object must be a regular file, owned by this user
//! unless the caller allows otherwise, start with a READY header that
//! validates, and be at least as long as the header claims (`probe.rs`).
//!
//! The mapping code is ours rather than the `shared_memory` crate's: that crate
//! unlinks the name under live peers and ignores the requested size, and we
//! need control of sizing, naming, permissions and validation.

#![cfg_attr(loom, allow(dead_code))]

use std::ffi::CString;
use std::fs::File;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::ptr::NonNull;

use crate::error::{CreateError, OpenError};

/// Longest shared-memory name accepted, leading `/` included (NAME_MAX).
pub const MAX_NAME_LEN: usize = 255;

/// Default permission bits of a created ring: owner read and write only.
pub const DEFAULT_MODE: u32 = 0o600;

/// What to remove when the region is dropped.
#[derive(Debug)]
enum Cleanup {
    None,
    UnlinkShm(CString),
    RemoveFile(PathBuf),
}

/// What keeps the memory alive.
#[derive(Debug)]
enum Backing {
    /// A mapping of ours (shm, file or memfd); held for its drop, which
    /// unmaps, and for `sync`.
    Mapped(memmap2::MmapRaw),
    /// Memory the caller owns.
    Borrowed,
    /// Heap memory for loom models (the slots; the loom header is boxed
    /// apart); held for its drop, which frees it.
    #[cfg(loom)]
    Heap(#[allow(dead_code)] Box<[u64]>),
}

/// A piece of memory holding one ring: where it is, how long, and what to do
/// when it is dropped.
#[derive(Debug)]
pub struct Region {
    ptr: NonNull<u8>,
    len: usize,
    name: Option<String>,
    backing: Backing,
    cleanup: Cleanup,
    /// The mapped object, kept open: the peer registry tests its peers'
    /// liveness locks through it (`peer/token.rs`). `None` for caller memory.
    file: Option<File>,
    /// Registration with the SIGBUS handler (shm and file mappings only).
    guard: crate::sigbus::Guard,
}

// SAFETY: the region is a plain range of memory; every concurrent access to it
// goes through the ring protocols (atomics for control words, ownership of
// slots by cursor). Moving the owner between threads changes nothing.
unsafe impl Send for Region {}
// SAFETY: as above; `&Region` only hands out the base pointer and length.
unsafe impl Sync for Region {}

impl Region {
    /// Start of the region.
    pub fn as_ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a region holds at least a header.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The shm name or file path it was created or opened by, if any.
    pub fn name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// The mapped object (shm, file or memfd), if the region has one.
    pub(crate) fn file(&self) -> Option<&File> {
        self.file.as_ref()
    }

    /// Set once the SIGBUS handler caught a fault in this region (the object
    /// was truncated under us) and mapped zero pages over the lost range.
    pub(crate) fn poison_flag(&self) -> crate::sigbus::Poison {
        self.guard.flag()
    }

    /// Writes bytes `offset..offset + len` of a mapping back to its file and
    /// waits for the write (`msync(MS_SYNC)`); nothing for memory that is
    /// not a mapping of ours.
    pub(crate) fn sync(&self, offset: usize, len: usize) -> std::io::Result<()> {
        match &self.backing {
            Backing::Mapped(map) => map.flush_range(offset, len),
            _ => Ok(()),
        }
    }

    /// Removes the name (or file) when this region is dropped.
    pub(crate) fn unlink_on_drop(&mut self) {
        if let Some(name) = &self.name {
            if matches!(self.backing, Backing::Mapped(_)) {
                self.cleanup = if name.starts_with('/') && !name[1..].contains('/') {
                    match CString::new(name.as_bytes()) {
                        Ok(c) => Cleanup::UnlinkShm(c),
                        Err(_) => Cleanup::None,
                    }
                } else {
                    Cleanup::RemoveFile(PathBuf::from(name))
                };
            }
        }
    }

    fn mapped(file: File, len: u64, name: Option<String>) -> io::Result<Region> {
        let len = usize::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let map = memmap2::MmapOptions::new().len(len).map_raw(&file)?;
        let ptr =
            NonNull::new(map.as_mut_ptr()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        Ok(Region {
            ptr,
            len,
            name,
            backing: Backing::Mapped(map),
            cleanup: Cleanup::None,
            file: Some(file),
            guard: crate::sigbus::register(ptr.as_ptr(), len),
        })
    }

    /// A region over memory the caller provides.
    ///
    /// # Safety
    /// `ptr` must be valid for reads and writes of `len` bytes, aligned to 128,
    /// for as long as any ring over it lives, and every other user of that memory
    /// must follow the ring protocol.
    pub unsafe fn from_raw_parts(ptr: NonNull<u8>, len: usize) -> Region {
        Region {
            ptr,
            len,
            name: None,
            backing: Backing::Borrowed,
            cleanup: Cleanup::None,
            file: None,
            guard: crate::sigbus::Guard::none(),
        }
    }

    /// Heap memory of `len` bytes, zeroed, 128-aligned (loom models).
    #[cfg(loom)]
    pub(crate) fn heap(len: usize) -> Region {
        // Over-allocate by one line and align by hand.
        let words = len.div_ceil(8) + 16;
        let mut mem = vec![0u64; words].into_boxed_slice();
        let base = mem.as_mut_ptr() as usize;
        let aligned = (base + 127) & !127;
        Region {
            // SAFETY: `aligned` is within the allocation (at most 120 bytes past
            // its start) and the allocation is not null.
            ptr: unsafe { NonNull::new_unchecked(aligned as *mut u8) },
            len,
            name: None,
            backing: Backing::Heap(mem),
            cleanup: Cleanup::None,
            file: None,
            guard: crate::sigbus::Guard::none(),
        }
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // Leave the SIGBUS table before the mapping goes (fields drop after this).
        drop(core::mem::replace(
            &mut self.guard,
            crate::sigbus::Guard::none(),
        ));
        match &self.cleanup {
            Cleanup::None => {}
            Cleanup::UnlinkShm(name) => {
                // SAFETY: `name` is a NUL-terminated C string we own.
                unsafe { libc::shm_unlink(name.as_ptr()) };
            }
            Cleanup::RemoveFile(path) => {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Checks a POSIX shared-memory name: one leading `/`, no other `/`, no NUL,
/// at most [`MAX_NAME_LEN`] bytes, not `/.` or `/..`.
///
/// # Errors
/// The reason, as a sentence fragment.
pub fn validate_shm_name(name: &str) -> Result<CString, &'static str> {
    let Some(rest) = name.strip_prefix('/') else {
        return Err("a shared-memory name starts with '/'");
    };
    if rest.is_empty() {
        return Err("the name after '/' is empty");
    }
    if rest.contains('/') {
        return Err("a shared-memory name has no '/' after the first");
    }
    if name.len() > MAX_NAME_LEN {
        return Err("the name is longer than 255 bytes");
    }
    if rest == "." || rest == ".." {
        return Err("'.' and '..' are not names");
    }
    CString::new(name).map_err(|_| "the name contains a NUL byte")
}

fn io_create(context: &'static str) -> impl FnOnce(io::Error) -> CreateError {
    move |source| CreateError::Io { context, source }
}

fn io_open(context: &'static str) -> impl FnOnce(io::Error) -> OpenError {
    move |source| OpenError::Io { context, source }
}

/// Sizes a freshly created object to `len` bytes and reserves them.
fn size_new(file: &File, len: u64) -> Result<(), CreateError> {
    file.set_len(len).map_err(io_create("ftruncate"))?;
    reserve(file, len)
}

/// Makes the filesystem allocate every page now, so that running out of
/// space is an error here and never a SIGBUS on first touch.
#[cfg(any(target_os = "linux", target_os = "android", target_os = "freebsd"))]
fn reserve(file: &File, len: u64) -> Result<(), CreateError> {
    let off_len = libc::off_t::try_from(len).map_err(|_| CreateError::NoSpace { need: len })?;
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: `fd` is open (owned by `file`) for the duration of the call;
    // posix_fallocate only reads its integer arguments.
    let err = unsafe { libc::posix_fallocate(fd, 0, off_len) };
    match err {
        0 => Ok(()),
        libc::ENOSPC | libc::EFBIG => Err(CreateError::NoSpace { need: len }),
        // Filesystems that cannot reserve (rare with glibc, which emulates) still work;
        // the pages are then allocated on first touch.
        libc::EOPNOTSUPP | libc::EINVAL => Ok(()),
        e => Err(CreateError::Io {
            context: "posix_fallocate",
            source: io::Error::from_raw_os_error(e),
        }),
    }
}

/// Elsewhere (macOS has no `posix_fallocate`, and shm objects there cannot be
/// preallocated) pages are allocated on first touch.
#[cfg(not(any(target_os = "linux", target_os = "android", target_os = "freebsd")))]
fn reserve(_file: &File, _len: u64) -> Result<(), CreateError> {
    Ok(())
}

/// `shm_open(name, flags, mode)`: a new fd or -1 with errno set.
fn shm_open(name: &CString, flags: libc::c_int, mode: u32) -> libc::c_int {
    // shm_open is variadic on macOS (the mode goes as an int) and takes a
    // mode_t elsewhere.
    #[cfg(target_vendor = "apple")]
    let mode = mode as libc::c_uint;
    #[cfg(not(target_vendor = "apple"))]
    let mode = mode as libc::mode_t;
    // SAFETY: `name` is NUL-terminated; shm_open only reads it.
    unsafe { libc::shm_open(name.as_ptr(), flags, mode) }
}

/// Creates the shm object `name` of `len` bytes and maps it.
pub(crate) fn create_shm(name: &str, len: u64, mode: u32) -> Result<Region, CreateError> {
    let cname = validate_shm_name(name).map_err(|reason| CreateError::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let fd = shm_open(
        &cname,
        libc::O_RDWR | libc::O_CREAT | libc::O_EXCL | libc::O_CLOEXEC,
        mode,
    );
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::EEXIST) => CreateError::AlreadyExists {
                name: name.to_owned(),
            },
            _ => CreateError::Io {
                context: "shm_open",
                source: e,
            },
        });
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let unlink = || {
        // SAFETY: `cname` is NUL-terminated.
        unsafe { libc::shm_unlink(cname.as_ptr()) };
    };
    // shm_open applies the umask; set the mode the caller asked for.
    let result = (|| {
        // SAFETY: fchmod only reads its integer arguments.
        if unsafe { libc::fchmod(fd, mode as libc::mode_t) } != 0 {
            return Err(io_create("fchmod")(io::Error::last_os_error()));
        }
        write_creation_line(&file)?;
        size_new(&file, len)?;
        Region::mapped(file, len, Some(name.to_owned())).map_err(io_create("mmap"))
    })();
    if result.is_err() {
        unlink();
    }
    result
}

/// Checks an opened object before mapping it, returning its length.
fn check_opened(file: &File, name: &str, allow_other_owner: bool) -> Result<u64, OpenError> {
    let meta = file.metadata().map_err(io_open("fstat"))?;
    if !meta.file_type().is_file() {
        return Err(OpenError::NotRegularFile {
            name: name.to_owned(),
        });
    }
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    if !allow_other_owner && meta.uid() != me {
        return Err(OpenError::WrongOwner {
            owner: meta.uid(),
            expected: me,
        });
    }
    // Nothing is mapped before its header was read (pread) and validated:
    // a foreign object is `BadMagic` here, a ring still being set up is
    // `NotReady`, and neither is ever mapped.
    crate::probe::check_before_map(file)?;
    // The length again, after the check: the mapping covers what is there
    // now (a peer may have changed it; attach validates the mapped copy).
    let len = file.metadata().map_err(io_open("fstat"))?.len();
    let need = crate::layout::HEADER_SIZE as u64;
    if len < need {
        return Err(OpenError::TooSmall { need, have: len });
    }
    Ok(len)
}

/// The creator's first write to a new (empty) object: line 0 of the header
/// with the magic and `STATE_INIT`, so that from its first byte on the object
/// says it is a ring under construction, and by whom (see `layout.rs`).
fn write_creation_line(file: &File) -> Result<(), CreateError> {
    use std::os::unix::fs::FileExt;
    file.write_all_at(&crate::probe::creation_line(), 0)
        .map_err(io_create("pwrite"))
}

/// Opens the shm object `name` and maps all of it.
pub(crate) fn open_shm(name: &str, allow_other_owner: bool) -> Result<Region, OpenError> {
    let cname = validate_shm_name(name).map_err(|reason| OpenError::InvalidName {
        name: name.to_owned(),
        reason,
    })?;
    let fd = shm_open(&cname, libc::O_RDWR | libc::O_CLOEXEC, 0);
    if fd < 0 {
        let e = io::Error::last_os_error();
        return Err(match e.raw_os_error() {
            Some(libc::ENOENT) => OpenError::NotFound {
                name: name.to_owned(),
            },
            _ => OpenError::Io {
                context: "shm_open",
                source: e,
            },
        });
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    let file = File::from(unsafe { OwnedFd::from_raw_fd(fd) });
    let len = check_opened(&file, name, allow_other_owner)?;
    Region::mapped(file, len, Some(name.to_owned())).map_err(io_open("mmap"))
}

/// Removes the shm name. Peers that have the ring mapped keep using it; new
/// opens fail with `NotFound`.
///
/// # Errors
/// `InvalidInput` for a bad name, `NotFound` when there is no such object, or
/// what `shm_unlink` reported.
pub fn remove_shm(name: &str) -> io::Result<()> {
    let cname = validate_shm_name(name)
        .map_err(|reason| io::Error::new(io::ErrorKind::InvalidInput, reason))?;
    // SAFETY: `cname` is NUL-terminated.
    if unsafe { libc::shm_unlink(cname.as_ptr()) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Creates the file `path` of `len` bytes (never following a symlink) and maps it.
pub(crate) fn create_file(path: &Path, len: u64, mode: u32) -> Result<Region, CreateError> {
    let name = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .mode(mode)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.kind() {
            io::ErrorKind::AlreadyExists => CreateError::AlreadyExists { name: name.clone() },
            _ => CreateError::Io {
                context: "open",
                source: e,
            },
        })?;
    let result = (|| {
        file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(mode))
            .map_err(io_create("fchmod"))?;
        write_creation_line(&file)?;
        size_new(&file, len)?;
        Region::mapped(file, len, Some(name.clone())).map_err(io_create("mmap"))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
}

/// Opens the file `path` (never following a symlink) and maps all of it.
pub(crate) fn open_file(path: &Path, allow_other_owner: bool) -> Result<Region, OpenError> {
    let name = path.display().to_string();
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match (e.kind(), e.raw_os_error()) {
            (io::ErrorKind::NotFound, _) => OpenError::NotFound { name: name.clone() },
            (_, Some(libc::ELOOP)) => OpenError::NotRegularFile { name: name.clone() },
            _ => OpenError::Io {
                context: "open",
                source: e,
            },
        })?;
    let len = check_opened(&file, &name, allow_other_owner)?;
    Region::mapped(file, len, Some(name)).map_err(io_open("mmap"))
}

/// An anonymous shared region of `len` bytes: a memfd sealed against shrinking
/// and growing, mapped shared, so threads and `fork`ed children see one ring.
pub(crate) fn create_anonymous(len: u64) -> Result<Region, CreateError> {
    let file = anonymous_file()?;
    size_new(&file, len)?;
    seal(&file)?;
    Region::mapped(file, len, None).map_err(io_create("mmap"))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn anonymous_file() -> Result<File, CreateError> {
    // SAFETY: the name is a NUL-terminated literal; memfd_create returns a new fd or -1.
    let fd = unsafe {
        libc::memfd_create(
            c"ringway".as_ptr(),
            libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING,
        )
    };
    if fd < 0 {
        return Err(io_create("memfd_create")(io::Error::last_os_error()));
    }
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn seal(file: &File) -> Result<(), CreateError> {
    let fd = std::os::fd::AsRawFd::as_raw_fd(file);
    // SAFETY: fcntl with F_ADD_SEALS only reads its integer arguments.
    let rc = unsafe {
        libc::fcntl(
            fd,
            libc::F_ADD_SEALS,
            libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_SEAL,
        )
    };
    if rc != 0 {
        return Err(io_create("fcntl(F_ADD_SEALS)")(io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn anonymous_file() -> Result<File, CreateError> {
    // No memfd: a uniquely named shm object, unlinked at once.
    use std::sync::atomic::{AtomicU32, Ordering};
    static SEQ: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "/ringway-anon-{}-{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    );
    let cname = CString::new(name).expect("no NUL");
    let fd = shm_open(&cname, libc::O_RDWR | libc::O_CREAT | libc::O_EXCL, 0o600);
    if fd < 0 {
        return Err(io_create("shm_open")(io::Error::last_os_error()));
    }
    // SAFETY: `cname` is NUL-terminated.
    unsafe { libc::shm_unlink(cname.as_ptr()) };
    // SAFETY: `fd` is a fresh descriptor that nothing else owns.
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn seal(_file: &File) -> Result<(), CreateError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_validated() {
        assert!(validate_shm_name("/ok-name_1.ring").is_ok());
        assert!(validate_shm_name("no-slash").is_err());
        assert!(validate_shm_name("/").is_err());
        assert!(validate_shm_name("/a/b").is_err());
        assert!(validate_shm_name("/..").is_err());
        assert!(validate_shm_name("/a\0b").is_err());
        let long = format!("/{}", "x".repeat(255));
        assert!(validate_shm_name(&long).is_err());
        let max = format!("/{}", "x".repeat(254));
        assert!(validate_shm_name(&max).is_ok());
    }
}
