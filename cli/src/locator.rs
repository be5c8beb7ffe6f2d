//! Where a ring lives: a POSIX shared-memory name or a file path.
//!
//! `/jobs` and `jobs` are the shm name `/jobs`; anything with a `/` after the
//! first character (`./jobs.ring`, `/tmp/jobs.ring`, `dir/jobs`) is a file.

use std::path::PathBuf;

use ringway::{OpenOptions, Ring};

use crate::failure::{fail, Failure};

/// A ring's location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Locator {
    /// A shm name, with its leading `/`.
    Shm(String),
    /// A file.
    File(PathBuf),
}

impl Locator {
    /// Parses a command-line ring argument.
    pub(crate) fn parse(arg: &str) -> Result<Locator, Failure> {
        if arg.is_empty() {
            fail!("invalid ring name \"\": the name is empty");
        }
        // By characters, not bytes: the first one may be several bytes long.
        if arg.chars().skip(1).any(|c| c == '/') || arg.starts_with('.') {
            return Ok(Locator::File(PathBuf::from(arg)));
        }
        let name = if arg.starts_with('/') {
            arg.to_owned()
        } else {
            format!("/{arg}")
        };
        if let Err(reason) = ringway::region::validate_shm_name(&name) {
            fail!("invalid ring name {arg:?}: {reason}");
        }
        Ok(Locator::Shm(name))
    }

    /// Opens the ring with `options`.
    pub(crate) fn open(&self, options: &OpenOptions) -> Result<Ring, Failure> {
        Ok(match self {
            Locator::Shm(name) => options.open_shm(name)?,
            Locator::File(path) => options.open_file(path)?,
        })
    }

    /// For messages.
    pub(crate) fn display(&self) -> String {
        match self {
            Locator::Shm(name) => name.clone(),
            Locator::File(path) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(Locator::parse("/a").unwrap(), Locator::Shm("/a".into()));
        assert_eq!(Locator::parse("a").unwrap(), Locator::Shm("/a".into()));
        assert_eq!(
            Locator::parse("/tmp/a").unwrap(),
            Locator::File("/tmp/a".into())
        );
        assert_eq!(Locator::parse("./a").unwrap(), Locator::File("./a".into()));
        assert!(Locator::parse("/").is_err());
        assert!(Locator::parse("").is_err());
        assert!(Locator::parse(&"x".repeat(300)).is_err());
        // A multi-byte first character (used to panic slicing at byte 1).
        assert_eq!(Locator::parse("é").unwrap(), Locator::Shm("/é".into()));
        assert_eq!(Locator::parse("é/x").unwrap(), Locator::File("é/x".into()));
    }
}
