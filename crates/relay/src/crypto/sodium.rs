//! Thin safe wrappers over libsodium (`libsodium-sys-stable`, vendored, statically linked).
#![allow(unsafe_code)]

use libsodium_sys as ffi;

use super::CryptoError;

/// XChaCha20-Poly1305-IETF key length.
pub const XCHACHA_KEY_LEN: usize = 32;
/// XChaCha20-Poly1305-IETF nonce length.
pub const XCHACHA_NONCE_LEN: usize = 24;
/// XChaCha20-Poly1305-IETF tag length.
pub const XCHACHA_TAG_LEN: usize = 16;

pub(super) fn init() -> Result<(), CryptoError> {
    // SAFETY: sodium_init is thread-safe and idempotent; it returns 1 when already initialised.
    let rc = unsafe { ffi::sodium_init() };
    if rc < 0 {
        return Err(CryptoError::Init);
    }
    Ok(())
}

/// Verifies a detached Ed25519 signature (RFC 8032, libsodium's strict checks).
pub fn ed25519_verify(message: &[u8], signature: &[u8; 64], public_key: &[u8; 32]) -> bool {
    // SAFETY: signature is 64 bytes and public_key 32 bytes, as libsodium requires; message is a
    // valid slice of the given length.
    let rc = unsafe {
        ffi::crypto_sign_ed25519_verify_detached(
            signature.as_ptr(),
            message.as_ptr(),
            message.len() as u64,
            public_key.as_ptr(),
        )
    };
    rc == 0
}

/// An Ed25519 secret key (libsodium's 64-byte seed ‖ public key form). Debug never prints it.
#[derive(Clone)]
pub struct Ed25519SecretKey([u8; 64]);

impl std::fmt::Debug for Ed25519SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ed25519SecretKey(***)")
    }
}

impl Ed25519SecretKey {
    /// The public half.
    pub fn public_key(&self) -> [u8; 32] {
        let mut pk = [0u8; 32];
        pk.copy_from_slice(&self.0[32..]);
        pk
    }
}

/// Derives an Ed25519 key pair from a 32-byte seed (test clients and devnet sign with it).
pub fn ed25519_keypair_from_seed(seed: &[u8; 32]) -> Ed25519SecretKey {
    let mut pk = [0u8; 32];
    let mut sk = [0u8; 64];
    // SAFETY: buffers have the sizes libsodium documents (32, 64, 32).
    unsafe { ffi::crypto_sign_seed_keypair(pk.as_mut_ptr(), sk.as_mut_ptr(), seed.as_ptr()) };
    Ed25519SecretKey(sk)
}

/// Signs `message` with a detached Ed25519 signature.
pub fn ed25519_sign(message: &[u8], secret: &Ed25519SecretKey) -> [u8; 64] {
    let mut sig = [0u8; 64];
    // SAFETY: sig is 64 bytes, secret 64 bytes; siglen may be null.
    unsafe {
        ffi::crypto_sign_detached(
            sig.as_mut_ptr(),
            std::ptr::null_mut(),
            message.as_ptr(),
            message.len() as u64,
            secret.0.as_ptr(),
        )
    };
    sig
}

/// Converts an Ed25519 public key to its X25519 (Montgomery) form; `None` if not a valid point.
pub fn ed25519_pk_to_x25519(ed25519: &[u8; 32]) -> Option<[u8; 32]> {
    let mut out = [0u8; 32];
    // SAFETY: both buffers are 32 bytes.
    let rc =
        unsafe { ffi::crypto_sign_ed25519_pk_to_curve25519(out.as_mut_ptr(), ed25519.as_ptr()) };
    (rc == 0).then_some(out)
}

/// X25519 scalar multiplication `secret · public`; fails for low-order points (all-zero output).
pub fn x25519(secret: &[u8; 32], public: &[u8; 32]) -> Result<[u8; 32], CryptoError> {
    let mut out = [0u8; 32];
    // SAFETY: all three buffers are 32 bytes.
    let rc = unsafe {
        ffi::crypto_scalarmult_curve25519(out.as_mut_ptr(), secret.as_ptr(), public.as_ptr())
    };
    if rc != 0 {
        return Err(CryptoError::InvalidKey);
    }
    Ok(out)
}

/// The X25519 public key of a secret scalar.
pub fn x25519_base(secret: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    // SAFETY: both buffers are 32 bytes.
    unsafe { ffi::crypto_scalarmult_curve25519_base(out.as_mut_ptr(), secret.as_ptr()) };
    out
}

/// XChaCha20-Poly1305-IETF encryption without associated data; returns ciphertext ‖ tag.
pub fn xchacha20_encrypt(key: &[u8; 32], nonce: &[u8; 24], plaintext: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; plaintext.len() + XCHACHA_TAG_LEN];
    let mut out_len: u64 = 0;
    // SAFETY: out has room for plaintext + tag; key and nonce have the required sizes; no AD.
    unsafe {
        ffi::crypto_aead_xchacha20poly1305_ietf_encrypt(
            out.as_mut_ptr(),
            &mut out_len,
            plaintext.as_ptr(),
            plaintext.len() as u64,
            std::ptr::null(),
            0,
            std::ptr::null(),
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    out.truncate(out_len as usize);
    out
}

/// XChaCha20-Poly1305-IETF decryption of ciphertext ‖ tag without associated data.
pub fn xchacha20_decrypt(
    key: &[u8; 32],
    nonce: &[u8; 24],
    ciphertext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if ciphertext.len() < XCHACHA_TAG_LEN {
        return Err(CryptoError::Decrypt);
    }
    let mut out = vec![0u8; ciphertext.len() - XCHACHA_TAG_LEN];
    let mut out_len: u64 = 0;
    // SAFETY: out has room for ciphertext − tag bytes; key and nonce have the required sizes.
    let rc = unsafe {
        ffi::crypto_aead_xchacha20poly1305_ietf_decrypt(
            out.as_mut_ptr(),
            &mut out_len,
            std::ptr::null_mut(),
            ciphertext.as_ptr(),
            ciphertext.len() as u64,
            std::ptr::null(),
            0,
            nonce.as_ptr(),
            key.as_ptr(),
        )
    };
    if rc != 0 {
        return Err(CryptoError::Decrypt);
    }
    out.truncate(out_len as usize);
    Ok(out)
}

/// Incremental BLAKE2b (libsodium `crypto_generichash`), unkeyed or keyed, 16…64-byte digest.
pub struct Blake2b {
    state: ffi::crypto_generichash_state,
    out_len: usize,
}

impl Blake2b {
    /// Starts a hash with an optional key (≤ 64 bytes) and a digest length of 16…64 bytes.
    pub fn new(key: Option<&[u8]>, out_len: usize) -> Self {
        let out_len = out_len.clamp(16, 64);
        let key = key.map(|k| &k[..k.len().min(64)]);
        // SAFETY: an all-zero state is valid storage for init to overwrite.
        let mut state: ffi::crypto_generichash_state = unsafe { std::mem::zeroed() };
        let (kp, kl) = key.map_or((std::ptr::null(), 0), |k| (k.as_ptr(), k.len()));
        // SAFETY: state is valid storage, key pointer/length describe a valid slice (or null/0),
        // out_len is within libsodium's bounds.
        unsafe { ffi::crypto_generichash_init(&mut state, kp, kl, out_len) };
        Blake2b { state, out_len }
    }

    /// Feeds more input.
    pub fn update(&mut self, data: &[u8]) -> &mut Self {
        // SAFETY: state was initialised by new; data is a valid slice.
        unsafe {
            ffi::crypto_generichash_update(&mut self.state, data.as_ptr(), data.len() as u64)
        };
        self
    }

    /// Finishes the hash into a fixed-size digest (`N` must equal the length given to `new`).
    pub fn finish<const N: usize>(mut self) -> [u8; N] {
        debug_assert_eq!(N, self.out_len);
        let mut out = [0u8; N];
        // SAFETY: out is N bytes, which is the length the state was initialised with.
        unsafe { ffi::crypto_generichash_final(&mut self.state, out.as_mut_ptr(), N) };
        out
    }
}

/// Unkeyed BLAKE2b of the concatenation of `parts`, with an `N`-byte digest.
pub fn blake2b<const N: usize>(parts: &[&[u8]]) -> [u8; N] {
    let mut h = Blake2b::new(None, N);
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// Keyed BLAKE2b of the concatenation of `parts`, with an `N`-byte digest.
pub fn blake2b_keyed<const N: usize>(key: &[u8], parts: &[&[u8]]) -> [u8; N] {
    let mut h = Blake2b::new(Some(key), N);
    for p in parts {
        h.update(p);
    }
    h.finish()
}

/// Fills a new buffer with cryptographically secure random bytes.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    // SAFETY: buf is a valid writable buffer of len bytes.
    unsafe { ffi::randombytes_buf(buf.as_mut_ptr().cast(), len) };
    buf
}

/// A fixed-size array of cryptographically secure random bytes.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // SAFETY: buf is a valid writable buffer of N bytes.
    unsafe { ffi::randombytes_buf(buf.as_mut_ptr().cast(), N) };
    buf
}

/// Constant-time equality of two byte strings (lengths are not secret).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // SAFETY: both pointers are valid for a.len() bytes.
    unsafe { ffi::sodium_memcmp(a.as_ptr().cast(), b.as_ptr().cast(), a.len()) == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_convert() {
        init().unwrap();
        let sk = ed25519_keypair_from_seed(&[7u8; 32]);
        let sig = ed25519_sign(b"hello", &sk);
        assert!(ed25519_verify(b"hello", &sig, &sk.public_key()));
        assert!(!ed25519_verify(b"hellp", &sig, &sk.public_key()));
        assert!(ed25519_pk_to_x25519(&sk.public_key()).is_some());
    }

    #[test]
    fn xchacha_round_trip_and_tamper() {
        let key = [1u8; 32];
        let nonce = [2u8; 24];
        let mut ct = xchacha20_encrypt(&key, &nonce, b"payload");
        assert_eq!(xchacha20_decrypt(&key, &nonce, &ct).unwrap(), b"payload");
        ct[0] ^= 1;
        assert_eq!(
            xchacha20_decrypt(&key, &nonce, &ct),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            xchacha20_decrypt(&key, &nonce, &[0u8; 3]),
            Err(CryptoError::Decrypt)
        );
    }

    #[test]
    fn x25519_agrees() {
        let a = [3u8; 32];
        let b = [4u8; 32];
        let s1 = x25519(&a, &x25519_base(&b)).unwrap();
        let s2 = x25519(&b, &x25519_base(&a)).unwrap();
        assert_eq!(s1, s2);
        assert!(x25519(&a, &[0u8; 32]).is_err());
    }

    #[test]
    fn blake2b_known_answer() {
        // BLAKE2b-256("abc"), RFC 7693 family test value.
        let h: [u8; 32] = blake2b(&[b"a", b"bc"]);
        assert_eq!(
            hex::encode(h),
            "bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319"
        );
        let k1: [u8; 32] = blake2b_keyed(b"k1", &[b"x"]);
        let k2: [u8; 32] = blake2b_keyed(b"k2", &[b"x"]);
        assert_ne!(k1, k2);
        assert!(ct_eq(&k1, &k1) && !ct_eq(&k1, &k2));
    }
}
