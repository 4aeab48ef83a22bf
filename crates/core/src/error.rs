//! The error type of every fallible call. It is defined with the OS layer (`sys`), which reports most
//! failures and must not depend on the core above it; the core re-exports it from here.

pub use crate::sys::{Error, Kind, Result};
