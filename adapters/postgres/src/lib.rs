//! The postgres adapter (in progress).
