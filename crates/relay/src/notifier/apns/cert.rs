//! APNs certificate auth: the `.p12` file, or a PEM file holding the certificate and its
//! unencrypted private key (what upstream SPNS used), → a TLS client identity and its notAfter.

use p12_keystore::{KeyStore, Pkcs12ImportPolicy};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use crate::notifier::http::ClientIdentity;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Whether a certificate file is PEM (else it is read as PKCS#12 DER).
pub(crate) fn is_pem(file: &[u8]) -> bool {
    file.windows(11).any(|w| w == b"-----BEGIN ")
}

/// The identity in a PEM file: its certificates (leaf first) and one private key.
pub(crate) fn load_pem(pem: &[u8]) -> Result<(ClientIdentity, i64), BoxError> {
    let chain = CertificateDer::pem_slice_iter(pem).collect::<Result<Vec<_>, _>>()?;
    let leaf = chain.first().ok_or("no CERTIFICATE block")?;
    let key = PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| format!("no unencrypted private key block: {e}"))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_ref())?;
    let not_after = parsed.validity().not_after.timestamp();
    Ok((ClientIdentity { chain, key }, not_after))
}

/// The identity inside a PKCS#12 archive and the leaf's notAfter (unix seconds).
pub(crate) fn load_p12(der: &[u8], password: &str) -> Result<(ClientIdentity, i64), BoxError> {
    let store = KeyStore::from_pkcs12(der, password, Pkcs12ImportPolicy::Strict)?;
    let (_, chain) = store
        .private_key_chain()
        .ok_or("no private key with a matching certificate")?;
    let leaf = chain.certs().first().ok_or("no certificate")?;
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf.as_der())?;
    let not_after = parsed.validity().not_after.timestamp();
    let identity = ClientIdentity {
        chain: chain
            .certs()
            .iter()
            .map(|c| CertificateDer::from(c.as_der().to_vec()))
            .collect(),
        key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(chain.key().as_der().to_vec())),
    };
    Ok((identity, not_after))
}

#[cfg(test)]
mod tests {
    use super::*;
    use p12_keystore::{Certificate, KeyStoreEntry, PrivateKey, PrivateKeyChain};

    fn p12(password: &str) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["relay".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let cert = params.self_signed(&key).unwrap();
        let chain = PrivateKeyChain::new(
            vec![1u8; 20],
            PrivateKey::from_der(&key.serialize_der()).unwrap(),
            [Certificate::from_der(cert.der()).unwrap()],
        );
        let mut store = KeyStore::new();
        store.add_entry("relay", KeyStoreEntry::PrivateKeyChain(chain));
        store.writer(password).write().unwrap()
    }

    #[test]
    fn loads_identity_and_expiry() {
        let (identity, not_after) = load_p12(&p12("secret"), "secret").unwrap();
        assert_eq!(identity.chain.len(), 1);
        assert_eq!(not_after, 1_893_542_400); // 2030-01-02T00:00:00Z
    }

    #[test]
    fn pem_with_certificate_and_key_loads_identity_and_expiry() {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["relay".to_string()]).unwrap();
        params.not_after = rcgen::date_time_ymd(2030, 1, 2);
        let cert = params.self_signed(&key).unwrap();
        // Upstream's layout: certificate then key, in one file.
        let pem = format!("{}{}", cert.pem(), key.serialize_pem());
        assert!(is_pem(pem.as_bytes()));
        let (identity, not_after) = load_pem(pem.as_bytes()).unwrap();
        assert_eq!(identity.chain.len(), 1);
        assert_eq!(not_after, 1_893_542_400);
        // Either block missing is refused.
        assert!(load_pem(cert.pem().as_bytes()).is_err());
        assert!(load_pem(key.serialize_pem().as_bytes()).is_err());
        assert!(!is_pem(&p12("x")));
    }

    #[test]
    fn wrong_password_fails() {
        assert!(load_p12(&p12("secret"), "guess").is_err());
    }
}
