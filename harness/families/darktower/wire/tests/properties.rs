//! Property laws (filled in below).
