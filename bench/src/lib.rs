//! Shared by the bench binaries: `--name=value` arguments, latency percentiles, the
//! line protocol the runner (`bench/run.py`) reads on stdout, and a JSON-ish result line.

use std::collections::HashMap;
use std::io::Write;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use tokio_rustls::rustls::{self, ClientConfig, RootCertStore};

/// `--name=value` and bare `--flag` arguments.
pub struct Args {
    values: HashMap<String, String>,
    pub positional: Vec<String>,
}

impl Args {
    pub fn from_env() -> Self {
        let mut values = HashMap::new();
        let mut positional = Vec::new();
        for arg in std::env::args().skip(1) {
            match arg.strip_prefix("--") {
                Some(flag) => match flag.split_once('=') {
                    Some((name, value)) => values.insert(name.to_owned(), value.to_owned()),
                    None => values.insert(flag.to_owned(), "true".to_owned()),
                },
                None => {
                    positional.push(arg);
                    None
                }
            };
        }
        Self { values, positional }
    }

    /// The value of `--name=`, parsed, or `default`. Exits with a message on a bad value.
    pub fn get<T: FromStr>(&self, name: &str, default: T) -> T {
        match self.values.get(name) {
            None => default,
            Some(text) => text.parse().unwrap_or_else(|_| {
                eprintln!("bad value for --{name}: {text}");
                std::process::exit(2)
            }),
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }
}

/// Prints one line for the runner and flushes at once (stdout is a pipe there).
pub fn mark(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Latency samples in microseconds.
#[derive(Default)]
pub struct Samples(pub Vec<u32>);

impl Samples {
    pub fn push(&mut self, latency: Duration) {
        self.0
            .push(latency.as_micros().min(u32::MAX as u128) as u32);
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    /// Percentiles `qs` (0..=1) in milliseconds, NaN when there is no sample.
    pub fn percentiles_ms(&mut self, qs: &[f64]) -> Vec<f64> {
        self.0.sort_unstable();
        qs.iter()
            .map(|q| {
                if self.0.is_empty() {
                    return f64::NAN;
                }
                let index = ((q * self.0.len() as f64) as usize).min(self.0.len() - 1);
                self.0[index] as f64 / 1000.0
            })
            .collect()
    }
}

/// A flat JSON object of numbers, printed as `RESULT {...}` for the runner.
#[derive(Default)]
pub struct Report(Vec<(String, f64)>);

impl Report {
    pub fn set(&mut self, name: &str, value: f64) -> &mut Self {
        self.0.push((name.to_owned(), value));
        self
    }

    pub fn print(&self) {
        let fields: Vec<String> = self
            .0
            .iter()
            .map(|(name, value)| {
                if value.is_finite() {
                    format!("\"{name}\": {value:.4}")
                } else {
                    format!("\"{name}\": null")
                }
            })
            .collect();
        mark(&format!("RESULT {{{}}}", fields.join(", ")));
    }
}

/// A rustls client configuration that trusts only the CA certificates in the PEM file
/// `ca_path` (the test CA a run made), with the safe default TLS versions.
pub fn trusting_ca(ca_path: &str) -> Result<ClientConfig, String> {
    let mut roots = RootCertStore::empty();
    let certificates =
        CertificateDer::pem_file_iter(ca_path).map_err(|e| format!("{ca_path}: {e}"))?;
    for certificate in certificates {
        let certificate = certificate.map_err(|e| format!("{ca_path}: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("{ca_path}: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}
