/// A delivery step that could not be completed (expected outcomes such as a duplicate or a
/// provider's verdict are values, not errors).
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The bencoded plaintext could not be built (cannot happen for well-formed metadata).
    #[error("cannot bencode the device payload")]
    Encode(#[source] bendy::encoding::Error),
    /// Loading the subscriber index from the store failed.
    #[error("cannot load subscriptions from the store")]
    Load(#[source] crate::store::StoreError),
}
