//! HTTPS: a self-signed certificate made at start.

use std::io;
use std::sync::Arc;
use tokio_rustls::rustls;

fn io_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("TLS setup: {e}"))
}

/// A TLS acceptor and the certificate's PEM.
pub(crate) fn acceptor(hostname: &str) -> io::Result<(tokio_rustls::TlsAcceptor, String)> {
    let names = vec![
        "localhost".to_string(),
        "127.0.0.1".to_string(),
        hostname.to_lowercase(),
    ];
    let certified = rcgen::generate_simple_self_signed(names).map_err(io_err)?;
    let pem = certified.cert.pem();
    let der = certified.cert.der().clone();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(rustls::pki_types::PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(io_err)?
        .with_no_client_auth()
        .with_single_cert(vec![der], key)
        .map_err(io_err)?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), pem))
}
