//! Placeholder: replaced by the owning crate work.
#![forbid(unsafe_code)]
