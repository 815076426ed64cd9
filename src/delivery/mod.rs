//! Delivery: de-duplication, the in-memory subscriber index, device payloads, dispatch to the
//! providers' queues and acting on their verdicts.
//!
//! **Owns:** PROTOCOL §9–§10 and the bulkheads of DESIGN. **Must not:** speak HTTP to providers.
