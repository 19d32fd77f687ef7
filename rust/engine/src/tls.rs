//! wss://: a rustls server configuration built from PEM text, checked up front so that a bad
//! certificate or key fails when the server starts, with a message that says what is wrong,
//! instead of failing every client's handshake later.
//!
//! The rules: the certificate PEM holds the server's certificate first, then any intermediates;
//! the CA-chain PEM, when given, is appended (certificates already sent are not repeated). The
//! key may be PKCS#8 (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`): RSA
//! (2048 to 8192 bits), ECDSA P-256 or P-384, or Ed25519. The key must belong to the first
//! certificate. An expired server certificate is refused; a server certificate that is not valid
//! yet, or an expired intermediate, is only a warning (clocks drift; some published chains carry
//! an expired cross-signature on purpose).

use std::fmt;
use std::io::BufRead;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls_pki_types::pem::{self, SectionKind};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio_rustls::TlsAcceptor;
use x509_parser::certificate::X509Certificate;
use zeroize::{Zeroize, Zeroizing};

/// Cap on a PEM input: a certificate chain or a key is a few KiB; anything this large is not one.
pub const MAX_PEM_BYTES: usize = 1024 * 1024;

/// PEM text and where it came from: `label` names it in error messages (e.g. `ssl_certificate`
/// or a file path). The text may be a private key: it is wiped when the `Pem` is dropped.
#[derive(Clone)]
pub struct Pem {
    pub label: String,
    pub data: Vec<u8>,
}

impl Pem {
    pub fn new(label: impl Into<String>, data: impl Into<Vec<u8>>) -> Self {
        Self {
            label: label.into(),
            data: data.into(),
        }
    }

    /// Overwrites the text with zeros where it lies, and the buffer's spare capacity with it
    /// (the length stays: what is left to free is zeros).
    fn wipe(&mut self) {
        self.data.as_mut_slice().zeroize();
        self.data.spare_capacity_mut().zeroize();
    }
}

impl Drop for Pem {
    fn drop(&mut self) {
        self.wipe();
    }
}

impl fmt::Debug for Pem {
    // Never print the bytes: they may be a private key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Pem({:?}, {} bytes)", self.label, self.data.len())
    }
}

/// A checked TLS server configuration, ready to accept wss:// connections.
#[derive(Clone)]
pub struct TlsConfig {
    acceptor: TlsAcceptor,
    chain_len: usize,
    subject: String,
    warnings: Vec<String>,
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("subject", &self.subject)
            .field("chain_len", &self.chain_len)
            .finish_non_exhaustive()
    }
}

impl TlsConfig {
    /// Builds the configuration: the certificate chain from `certificate` followed by the
    /// certificates of `ca_chain`, and the first private key in `key`. ALPN offers `http/1.1`.
    pub fn from_pem(
        certificate: &Pem,
        key: &Pem,
        ca_chain: Option<&Pem>,
    ) -> Result<Self, TlsError> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        let mut warnings = Vec::new();

        let mut chain = read_certificates(certificate)?;
        let own = chain.len();
        if let Some(ca_chain) = ca_chain {
            append_new(&mut chain, read_certificates(ca_chain)?);
        }
        let leaf = &chain[0];
        check_validity(leaf, 0, certificate, now, &mut warnings)?;
        for (index, cert) in chain.iter().enumerate().skip(1) {
            let source = if index < own {
                certificate
            } else {
                ca_chain.unwrap_or(certificate)
            };
            check_validity(cert, index, source, now, &mut warnings)?;
        }
        if leaf.is_ca && chain.len() == 1 && leaf.self_signed {
            warnings.push(format!(
                "{}: the server certificate ({}) is a self-signed CA certificate: clients told \
                 to trust it accept it, browsers do not",
                certificate.label, leaf.subject
            ));
        }

        let provider = Arc::new(rustls::crypto::ring::default_provider());
        // The one copy of the key's DER outside a wiped buffer: rustls takes it and drops it
        // once ring has parsed it (rustls does not wipe it).
        let key_der = read_key(key)?;
        let key_kind = key_kind(&key_der);
        let signing_key = provider
            .key_provider
            .load_private_key(key_der)
            .map_err(|e| TlsError::UnsupportedKey {
                label: key.label.clone(),
                kind: key_kind,
                reason: e.to_string(),
            })?;
        if let Some(spki) = signing_key.public_key() {
            if spki.as_ref() != leaf.spki.as_slice() {
                let belongs_to = chain
                    .iter()
                    .position(|c| c.spki.as_slice() == spki.as_ref())
                    .map(|i| (i + 1, chain[i].subject.clone()));
                return Err(TlsError::KeyMismatch {
                    key_label: key.label.clone(),
                    certificate_label: certificate.label.clone(),
                    subject: leaf.subject.clone(),
                    belongs_to,
                });
            }
        }

        let ders: Vec<CertificateDer<'static>> = chain
            .iter()
            .map(|c| CertificateDer::from(c.der.clone()))
            .collect();
        // The key is checked against the certificate above (rustls tolerates a key whose
        // public half it cannot tell, as here), and parsed once.
        let certified = Arc::new(SingleCertAndKey::from(CertifiedKey::new(ders, signing_key)));
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(rustls::DEFAULT_VERSIONS)
            .map_err(|e| TlsError::Rejected(e.to_string()))?
            .with_no_client_auth()
            .with_cert_resolver(certified);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            chain_len: chain.len(),
            subject: leaf.subject.clone(),
            warnings,
        })
    }

    /// How many certificates the server sends (its own first).
    pub fn chain_len(&self) -> usize {
        self.chain_len
    }

    /// The subject of the server certificate, e.g. `CN=example.com`.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// What works but deserves a look: a certificate not valid yet, an expired intermediate.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    pub(crate) fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }
}

/// What is wrong with the certificate or key. Each names its input by label.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// The PEM text is broken (bad base64, a section without its END line, ...).
    BadPem { label: String, reason: String },
    /// No `CERTIFICATE` section. `hint` says what the input looks like instead.
    NoCertificate { label: String, hint: String },
    /// A `CERTIFICATE` section that is not an X.509 certificate. `index` counts from 1.
    BadCertificate {
        label: String,
        index: usize,
        reason: String,
    },
    /// The server certificate's validity ended.
    Expired {
        label: String,
        subject: String,
        not_after: String,
    },
    /// No private key section. `hint` says what the input looks like instead.
    NoKey { label: String, hint: String },
    /// A key rustls cannot sign with (an unsupported algorithm, curve or size, or bad DER).
    UnsupportedKey {
        label: String,
        kind: &'static str,
        reason: String,
    },
    /// The key does not belong to the server certificate. `belongs_to` is the position (from 1)
    /// and subject of the chain's certificate it does belong to, if any.
    KeyMismatch {
        key_label: String,
        certificate_label: String,
        subject: String,
        belongs_to: Option<(usize, String)>,
    },
    /// rustls refused the configuration for another reason.
    Rejected(String),
}

impl TlsError {
    /// True when the input could not be read as a certificate or key at all (as opposed to a
    /// well-formed certificate and key that do not work together or are out of date).
    pub fn is_unreadable(&self) -> bool {
        matches!(
            self,
            Self::BadPem { .. }
                | Self::NoCertificate { .. }
                | Self::BadCertificate { .. }
                | Self::NoKey { .. }
                | Self::UnsupportedKey { .. }
        )
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadPem { label, reason } => write!(f, "{label}: not valid PEM: {reason}"),
            Self::NoCertificate { label, hint } => write!(
                f,
                "{label}: no certificate found (expected a -----BEGIN CERTIFICATE----- \
                 section){hint}"
            ),
            Self::BadCertificate {
                label,
                index,
                reason,
            } => write!(
                f,
                "{label}: certificate #{index} is not a valid X.509 certificate: {reason}"
            ),
            Self::Expired {
                label,
                subject,
                not_after,
            } => write!(
                f,
                "{label}: the server certificate ({subject}) expired on {not_after}; renew it"
            ),
            Self::NoKey { label, hint } => write!(
                f,
                "{label}: no private key found (expected a -----BEGIN PRIVATE KEY-----, \
                 -----BEGIN EC PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY----- \
                 section){hint}"
            ),
            Self::UnsupportedKey {
                label,
                kind,
                reason,
            } => write!(
                f,
                "{label}: the {kind} private key cannot be used ({reason}); supported are RSA \
                 2048-8192 bits, ECDSA P-256 and P-384, and Ed25519"
            ),
            Self::KeyMismatch {
                key_label,
                certificate_label,
                subject,
                belongs_to: Some((index, owner)),
            } => write!(
                f,
                "{key_label}: the private key belongs to certificate #{index} ({owner}) of the \
                 chain, not to the server certificate ({subject}) of {certificate_label}: the \
                 server's own certificate must come first"
            ),
            Self::KeyMismatch {
                key_label,
                certificate_label,
                subject,
                belongs_to: None,
            } => write!(
                f,
                "{key_label}: the private key does not match the server certificate \
                 ({subject}) of {certificate_label}; use the key the certificate was issued for"
            ),
            Self::Rejected(reason) => write!(f, "the TLS configuration was refused: {reason}"),
        }
    }
}

impl std::error::Error for TlsError {}

struct Certificate {
    der: Vec<u8>,
    spki: Vec<u8>,
    subject: String,
    is_ca: bool,
    self_signed: bool,
    not_before: (i64, String),
    not_after: (i64, String),
}

/// A PEM section's kind and DER bytes, wiped when dropped (one may be a private key).
type Section = (SectionKind, Zeroizing<Vec<u8>>);

/// Every PEM section of a kind rustls knows, in order.
fn sections(input: &Pem) -> Result<Vec<Section>, TlsError> {
    let mut reader: &[u8] = &input.data;
    let mut found = Vec::new();
    loop {
        match pem::from_buf(&mut reader as &mut dyn BufRead) {
            Ok(Some((kind, der))) => found.push((kind, Zeroizing::new(der))),
            Ok(None) => return Ok(found),
            Err(e) => {
                return Err(TlsError::BadPem {
                    label: input.label.clone(),
                    reason: pem_error(&e),
                })
            }
        }
    }
}

fn pem_error(error: &pem::Error) -> String {
    match error {
        pem::Error::MissingSectionEnd { end_marker } => format!(
            "a section has no {} line",
            String::from_utf8_lossy(end_marker)
        ),
        pem::Error::IllegalSectionStart { line } => {
            format!("bad section start line {:?}", String::from_utf8_lossy(line))
        }
        pem::Error::Base64Decode(_) => "a section's base64 body does not decode".to_owned(),
        other => format!("{other:?}"),
    }
}

/// What an input that has none of the expected sections looks like, for the error message.
fn describe_other(input: &Pem, sections: &[Section]) -> String {
    let data = &input.data;
    if data.is_empty() {
        return ": it is empty".to_owned();
    }
    let text = String::from_utf8_lossy(&data[..data.len().min(64 * 1024)]);
    if text.contains("ENCRYPTED PRIVATE KEY") || text.contains("Proc-Type: 4,ENCRYPTED") {
        return ": the key is encrypted with a passphrase; decrypt it first (openssl pkey -in \
                KEY -out PLAIN_KEY)"
            .to_owned();
    }
    if data[0] == 0x30 {
        return ": it looks like binary DER; convert it to PEM (openssl x509 -inform der, or \
                openssl pkey -inform der)"
            .to_owned();
    }
    let kinds: Vec<&str> = sections
        .iter()
        .map(|(kind, _)| section_name(*kind))
        .collect();
    if !kinds.is_empty() {
        return format!(": it holds only {}", kinds.join(", "));
    }
    if text.contains("-----BEGIN ") {
        return ": it holds only PEM sections of other kinds".to_owned();
    }
    ": it is not PEM text".to_owned()
}

fn section_name(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::Certificate => "a certificate",
        SectionKind::PublicKey => "a public key",
        SectionKind::RsaPrivateKey | SectionKind::PrivateKey | SectionKind::EcPrivateKey => {
            "a private key"
        }
        SectionKind::Crl => "a revocation list",
        SectionKind::Csr => "a certificate request",
        _ => "another kind of section",
    }
}

fn read_certificates(input: &Pem) -> Result<Vec<Certificate>, TlsError> {
    let sections = sections(input)?;
    let mut certificates = Vec::new();
    for (kind, der) in &sections {
        if *kind != SectionKind::Certificate {
            continue;
        }
        let index = certificates.len() + 1;
        let parsed = match x509_parser::parse_x509_certificate(der) {
            Ok((_, parsed)) => parsed,
            Err(e) => {
                return Err(TlsError::BadCertificate {
                    label: input.label.clone(),
                    index,
                    reason: e.to_string(),
                })
            }
        };
        certificates.push(certificate_info(der.to_vec(), &parsed));
    }
    if certificates.is_empty() {
        return Err(TlsError::NoCertificate {
            label: input.label.clone(),
            hint: describe_other(input, &sections),
        });
    }
    // A chain never repeats a certificate (Godot 3.2's X509Certificate.save() writes the first
    // certificate of a chain once per certificate, for one).
    let mut unique = Vec::with_capacity(certificates.len());
    append_new(&mut unique, certificates);
    Ok(unique)
}

/// Appends to `chain` each of `certificates` that it does not hold yet.
fn append_new(chain: &mut Vec<Certificate>, certificates: Vec<Certificate>) {
    for cert in certificates {
        if !chain.iter().any(|c| c.der == cert.der) {
            chain.push(cert);
        }
    }
}

fn certificate_info(der: Vec<u8>, parsed: &X509Certificate<'_>) -> Certificate {
    let validity = parsed.validity();
    Certificate {
        spki: parsed.public_key().raw.to_vec(),
        subject: name_or_placeholder(parsed.subject().to_string()),
        is_ca: parsed.is_ca(),
        self_signed: parsed.subject().as_raw() == parsed.issuer().as_raw(),
        not_before: (
            validity.not_before.timestamp(),
            validity.not_before.to_string(),
        ),
        not_after: (
            validity.not_after.timestamp(),
            validity.not_after.to_string(),
        ),
        der,
    }
}

fn name_or_placeholder(name: String) -> String {
    if name.is_empty() {
        "no subject name".to_owned()
    } else {
        name
    }
}

fn check_validity(
    cert: &Certificate,
    index: usize,
    source: &Pem,
    now: i64,
    warnings: &mut Vec<String>,
) -> Result<(), TlsError> {
    let label = &source.label;
    if cert.not_after.0 < now {
        if index == 0 {
            return Err(TlsError::Expired {
                label: label.clone(),
                subject: cert.subject.clone(),
                not_after: cert.not_after.1.clone(),
            });
        }
        warnings.push(format!(
            "{label}: chain certificate #{} ({}) expired on {}; clients that need it will \
             refuse the chain",
            index + 1,
            cert.subject,
            cert.not_after.1
        ));
    } else if cert.not_before.0 > now {
        warnings.push(format!(
            "{label}: {} ({}) is not valid before {}; clients will refuse it until then (is \
             the clock right?)",
            if index == 0 {
                "the server certificate".to_owned()
            } else {
                format!("chain certificate #{}", index + 1)
            },
            cert.subject,
            cert.not_before.1
        ));
    }
    Ok(())
}

fn read_key(input: &Pem) -> Result<PrivateKeyDer<'static>, TlsError> {
    let sections = sections(input)?;
    let key = sections.iter().find_map(|(kind, der)| match kind {
        SectionKind::PrivateKey => Some(PrivateKeyDer::Pkcs8(der.to_vec().into())),
        SectionKind::EcPrivateKey => Some(PrivateKeyDer::Sec1(der.to_vec().into())),
        SectionKind::RsaPrivateKey => Some(PrivateKeyDer::Pkcs1(der.to_vec().into())),
        _ => None,
    });
    key.ok_or_else(|| TlsError::NoKey {
        label: input.label.clone(),
        hint: describe_other(input, &sections),
    })
}

fn key_kind(key: &PrivateKeyDer<'_>) -> &'static str {
    match key {
        PrivateKeyDer::Pkcs1(_) => "PKCS#1 RSA",
        PrivateKeyDer::Sec1(_) => "SEC1 EC",
        PrivateKeyDer::Pkcs8(_) => "PKCS#8",
        _ => "unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pem_is_wiped_where_it_lies_before_it_is_freed() {
        let mut key = Vec::with_capacity(100);
        key.extend_from_slice(b"-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n");
        let mut pem = Pem::new("private_key", key);
        let (at, len) = (pem.data.as_ptr(), pem.data.len());
        pem.wipe(); // what dropping it runs
        assert_eq!(
            (pem.data.as_ptr(), pem.data.len()),
            (at, len),
            "wiped in place"
        );
        assert!(pem.data.iter().all(|b| *b == 0), "{:?}", pem.data);
    }

    #[test]
    fn garbage_is_described() {
        let err = read_certificates(&Pem::new("x", b"hello".to_vec()))
            .err()
            .unwrap();
        assert!(err.to_string().contains("not PEM text"), "{err}");
        let err = read_certificates(&Pem::new("x", Vec::new())).err().unwrap();
        assert!(err.to_string().contains("empty"), "{err}");
        let err = read_certificates(&Pem::new("x", vec![0x30, 0x82, 1, 2]))
            .err()
            .unwrap();
        assert!(err.to_string().contains("DER"), "{err}");
        let err = read_key(&Pem::new(
            "k",
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"
                .to_vec(),
        ))
        .err()
        .unwrap();
        assert!(err.to_string().contains("passphrase"), "{err}");
    }

    #[test]
    fn broken_pem_is_reported() {
        let err = read_certificates(&Pem::new(
            "c",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n".to_vec(),
        ))
        .err()
        .unwrap();
        assert!(matches!(err, TlsError::BadPem { .. }), "{err}");
        let err = read_certificates(&Pem::new(
            "c",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".to_vec(),
        ))
        .err()
        .unwrap();
        assert!(
            matches!(err, TlsError::BadCertificate { index: 1, .. }),
            "{err}"
        );
    }
}
