//! TLS as libpq does it, in front of sqlx 0.8 (whose own TLS adds the public web roots
//! to any CA given and skips verification on `require`). tenantctl negotiates TLS itself
//! with rustls and its standard WebPKI verifier, and hands sqlx a private Unix socket
//! that relays each connection over a fresh TLS session to the server.
//!
//! Rules (libpq's): the trust anchors are `sslrootcert`, else `~/.postgresql/root.crt`,
//! and nothing else; `sslrootcert=system` means the OS store. `verify-ca` checks the
//! chain, `verify-full` the chain and the host name, `require` encrypts and behaves as
//! `verify-ca` when a root file exists, `prefer` falls back to plain text when the server
//! declines TLS or the handshake fails. `disable` and `allow` are left to sqlx.

use crate::connect::{CONNECT_TIMEOUT, ConnectError, ConnectionSpec};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Which protection a session has, for the header and JSON output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TlsState {
    /// Plain text.
    #[default]
    Off,
    /// Encrypted, the server's certificate not checked (`require` or `prefer` without roots).
    EncryptedUnverified,
    /// Encrypted, the certificate chain (and for `verify-full` the host name) checked.
    Verified,
}

impl TlsState {
    /// Words for the header.
    pub fn label(self) -> &'static str {
        match self {
            TlsState::Off => "TLS off",
            TlsState::EncryptedUnverified => "TLS unverified",
            TlsState::Verified => "TLS verified",
        }
    }
}

/// How a connection reaches the server.
pub enum Route {
    /// sqlx connects itself (sockets, `disable`, `allow`, or `prefer` after a fallback).
    /// `answered`: the server was reached while routing (it declined or failed TLS).
    Direct {
        sslmode_for_sqlx: String,
        answered: bool,
    },
    /// Through the relay in `dir` (a private folder holding the Unix socket).
    Relayed { dir: PathBuf },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Check {
    None,
    Chain,
    ChainAndHost,
}

/// The default root file, as libpq looks for it.
fn default_root_file() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".postgresql/root.crt"))
}

fn tls_error(spec: &ConnectionSpec, cause: impl Into<String>) -> ConnectError {
    ConnectError::TlsRefused {
        target: format!("{}:{}", spec.host, spec.port),
        cause: cause.into(),
    }
}

fn load_roots(spec: &ConnectionSpec, path: &Path) -> Result<RootCertStore, ConnectError> {
    let mut roots = RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path).map_err(|e| {
        tls_error(
            spec,
            format!("cannot read sslrootcert {}: {e}", path.display()),
        )
    })?;
    for cert in certs {
        let cert = cert.map_err(|e| {
            tls_error(
                spec,
                format!("sslrootcert {} is not PEM: {e}", path.display()),
            )
        })?;
        roots.add(cert).map_err(|e| {
            tls_error(
                spec,
                format!(
                    "sslrootcert {} holds an unusable certificate: {e}",
                    path.display()
                ),
            )
        })?;
    }
    if roots.is_empty() {
        return Err(tls_error(
            spec,
            format!("sslrootcert {} holds no certificate", path.display()),
        ));
    }
    Ok(roots)
}

fn system_roots(spec: &ConnectionSpec) -> Result<RootCertStore, ConnectError> {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for cert in found.certs {
        let _ = roots.add(cert);
    }
    if roots.is_empty() {
        return Err(tls_error(
            spec,
            "sslrootcert=system, but the OS certificate store is empty or unreadable",
        ));
    }
    Ok(roots)
}

/// The check to make and the anchors to make it with, by libpq's rules.
fn plan(spec: &ConnectionSpec) -> Result<(Check, Option<RootCertStore>), ConnectError> {
    let system = spec.sslrootcert.as_deref() == Some(Path::new("system"));
    if system {
        if spec.sslmode != "verify-full" {
            return Err(ConnectError::BadSetting(format!(
                "sslrootcert=system needs sslmode=verify-full (got {}): a public CA vouches for names, not for your server",
                spec.sslmode
            )));
        }
        return Ok((Check::ChainAndHost, Some(system_roots(spec)?)));
    }
    let root_file = spec
        .sslrootcert
        .clone()
        .or_else(|| default_root_file().filter(|p| p.is_file()));
    match spec.sslmode.as_str() {
        "verify-ca" | "verify-full" => {
            let Some(path) = root_file else {
                return Err(tls_error(
                    spec,
                    format!(
                        "sslmode={} needs a root certificate: set sslrootcert or put the CA in ~/.postgresql/root.crt",
                        spec.sslmode
                    ),
                ));
            };
            let check = if spec.sslmode == "verify-full" {
                Check::ChainAndHost
            } else {
                Check::Chain
            };
            Ok((check, Some(load_roots(spec, &path)?)))
        }
        // libpq: require with a root file present verifies the chain.
        "require" => match root_file {
            Some(path) => Ok((Check::Chain, Some(load_roots(spec, &path)?))),
            None => Ok((Check::None, None)),
        },
        _ => Ok((Check::None, None)),
    }
}

/// Chain and host (verify-full), chain only (verify-ca), or nothing (require/prefer
/// without roots, as libpq); handshake signatures are always checked.
#[derive(Debug)]
struct Verifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_host: bool,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Verifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            // WebPKI checks the name only after the chain verified: verify-ca stops there.
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if !self.check_host => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_config(
    spec: &ConnectionSpec,
    check: Check,
    roots: Option<RootCertStore>,
) -> Result<Arc<ClientConfig>, ConnectError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = match roots {
        Some(roots) if check != Check::None => Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| tls_error(spec, e.to_string()))?,
        ),
        _ => None,
    };
    let verifier = Arc::new(Verifier {
        inner,
        check_host: check == Check::ChainAndHost,
        provider: provider.clone(),
    });
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_error(spec, e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// PostgreSQL's SSLRequest: true when the server agrees to TLS.
async fn ssl_request(tcp: &mut TcpStream) -> std::io::Result<bool> {
    tcp.write_all(&[0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f]).await?;
    let mut answer = [0u8; 1];
    tcp.read_exact(&mut answer).await?;
    match answer[0] {
        b'S' => Ok(true),
        b'N' => Ok(false),
        other => Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("unexpected answer {other:#x} to the TLS request"),
        )),
    }
}

enum Handshake {
    Done(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    Declined,
    Failed(String),
}

async fn handshake(
    host: &str,
    port: u16,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> std::io::Result<Handshake> {
    let mut tcp = TcpStream::connect((host, port)).await?;
    if !ssl_request(&mut tcp).await? {
        return Ok(Handshake::Declined);
    }
    match tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
    {
        Ok(tls) => Ok(Handshake::Done(Box::new(tls))),
        // The rustls error's Debug form names the case (NotValidForName, UnknownIssuer,
        // UnsupportedCertVersion); its Display form is for people.
        Err(e) => Ok(Handshake::Failed(
            match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(tls) => format!("{tls} ({tls:?})"),
                None => e.to_string(),
            },
        )),
    }
}

/// Why a handshake failed, with what to do, in one line.
fn explain(spec: &ConnectionSpec, cause: &str) -> String {
    if cause.contains("UnsupportedCertVersion") {
        format!(
            "the server's certificate is X.509 version 1, which tenantctl's TLS library cannot use (with sslmode={}); give the server a version 3 certificate (e.g. openssl req -x509 with -addext), or use sslmode=prefer to fall back to plain text",
            spec.sslmode
        )
    } else if cause.contains("NotValidForName") {
        format!(
            "the server's certificate is not valid for host {:?} (sslmode=verify-full); connect by a name the certificate lists, or fix its subjectAltName",
            spec.host
        )
    } else if cause.contains("UnknownIssuer") || cause.contains("BadSignature") {
        "the server's certificate was not issued by the CA in sslrootcert (or ~/.postgresql/root.crt); point sslrootcert at the CA that signed it".into()
    } else {
        format!("TLS handshake failed: {cause}")
    }
}

/// Decides how sessions reach the server and, when TLS is needed, starts the relay.
/// The first handshake is made here, so that a refusal is reported with its reason.
pub async fn route(spec: &ConnectionSpec) -> Result<(Route, TlsState), ConnectError> {
    let mode = spec.sslmode.as_str();
    if spec.host.starts_with('/') || mode == "disable" || mode == "allow" {
        let state = TlsState::Off;
        return Ok((
            Route::Direct {
                sslmode_for_sqlx: if spec.host.starts_with('/') {
                    "disable".into()
                } else {
                    mode.into()
                },
                answered: false,
            },
            state,
        ));
    }
    let (check, roots) = plan(spec)?;
    let config = client_config(spec, check, roots)?;
    let name = ServerName::try_from(spec.host.clone()).map_err(|e| {
        tls_error(
            spec,
            format!("host {:?} is not a valid TLS name: {e}", spec.host),
        )
    })?;
    let attempt = tokio::time::timeout(
        CONNECT_TIMEOUT,
        handshake(&spec.host, spec.port, config.clone(), name.clone()),
    )
    .await
    .map_err(|_| ConnectError::Unreachable {
        target: format!("{}:{}", spec.host, spec.port),
        cause: format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
    })?
    .map_err(|e| ConnectError::Unreachable {
        target: format!("{}:{}", spec.host, spec.port),
        cause: e.to_string(),
    })?;
    match attempt {
        Handshake::Done(mut tls) => {
            let _ = tls.shutdown().await;
        }
        Handshake::Declined | Handshake::Failed(_) if mode == "prefer" => {
            // libpq's prefer: plain text when TLS is declined or cannot be set up.
            return Ok((
                Route::Direct {
                    sslmode_for_sqlx: "disable".into(),
                    answered: true,
                },
                TlsState::Off,
            ));
        }
        Handshake::Declined => {
            return Err(tls_error(
                spec,
                format!(
                    "the server does not accept TLS (sslmode={mode}); enable ssl on the server, or use sslmode=prefer"
                ),
            ));
        }
        Handshake::Failed(cause) => return Err(tls_error(spec, explain(spec, &cause))),
    }
    let state = if check == Check::None {
        TlsState::EncryptedUnverified
    } else {
        TlsState::Verified
    };
    let dir = start_relay(spec, config, name).await?;
    Ok((Route::Relayed { dir }, state))
}

/// A private folder with a Unix socket named as PostgreSQL names them, relaying each
/// connection over its own TLS session. It lives as long as the async runtime.
async fn start_relay(
    spec: &ConnectionSpec,
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
) -> Result<PathBuf, ConnectError> {
    let io = |e: std::io::Error| tls_error(spec, format!("cannot start the TLS relay: {e}"));
    let dir = tempfile::Builder::new()
        .prefix("tenantctl-tls-")
        .tempdir()
        .map_err(io)?;
    let path = dir.path().to_path_buf();
    let listener =
        tokio::net::UnixListener::bind(path.join(format!(".s.PGSQL.{}", spec.port))).map_err(io)?;
    let host = spec.host.clone();
    let port = spec.port;
    tokio::spawn(async move {
        let _keep = dir;
        while let Ok((mut client, _)) = listener.accept().await {
            let (host, config, name) = (host.clone(), config.clone(), name.clone());
            tokio::spawn(async move {
                if let Ok(Handshake::Done(mut tls)) = handshake(&host, port, config, name).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut *tls).await;
                }
            });
        }
    });
    Ok(path)
}
