//! [`Failure`], the error of every command, and [`fail!`]: each becomes one
//! line on stderr, `ringway: ...`, and exit code 1.

/// A failure: the message printed after `ringway: `.
#[derive(Debug)]
pub(crate) struct Failure(pub(crate) String);

impl<E: std::fmt::Display> From<E> for Failure {
    fn from(e: E) -> Self {
        Failure(e.to_string())
    }
}

/// `Err(Failure)` from a format string.
macro_rules! fail {
    ($($arg:tt)*) => {
        return Err($crate::failure::Failure(format!($($arg)*)))
    };
}
pub(crate) use fail;
