//! Replays the committed Dark Tower fuzz corpora (filled in below).
