//! Session windows (in progress).
