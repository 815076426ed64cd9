//! A fake oxend (PROTOCOL §5.1, §7.4): filled in below.
