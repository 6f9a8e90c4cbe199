//! Where a PostgreSQL database is and how its connections are secured: libpq's `sslmode` and
//! `sslrootcert` URL parameters, over rustls.
//!
//! | `sslmode` | encrypted | the server's certificate |
//! |---|---|---|
//! | `disable` | never | - |
//! | `prefer` (default) | when the server offers TLS | not checked |
//! | `require` | always | not checked; with `sslrootcert`, as `verify-ca` |
//! | `verify-ca` | always | signed by a CA of `sslrootcert` (else the system's) |
//! | `verify-full` | always | as `verify-ca`, and names the host of the URL |
//!
//! As in libpq, `prefer` and `require` keep the password and the data from eavesdroppers but not
//! from someone who can stand in for the server: a database across a network wants
//! `verify-full`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How long a connection attempt to PostgreSQL may take (unless the URL's `connect_timeout`
/// says otherwise).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(s: &str) -> Result<Self, String> {
        Ok(match s {
            "disable" => Self::Disable,
            "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            _ => {
                return Err(format!(
                    "sslmode={s} is not one of disable, prefer, require, verify-ca, verify-full"
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require => "require",
            Self::VerifyCa => "verify-ca",
            Self::VerifyFull => "verify-full",
        }
    }
}

/// A PostgreSQL database: the client's configuration and how its connections are secured.
#[derive(Clone)]
pub struct PgDatabase {
    pub(crate) config: postgres::Config,
    mode: SslMode,
    /// Built once, when the URL is read (so that an unreadable CA file is said at start).
    tls: Option<MakeRustlsConnect>,
}

/// Shown as [`crate::Database`] shows it: without the password.
impl std::fmt::Debug for PgDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", crate::Database::Postgres(Box::new(self.clone())))
    }
}

impl PgDatabase {
    /// Reads a `postgres://` URL. `sslmode` and `sslrootcert` are taken here (the client
    /// library knows neither `verify-*` nor `sslrootcert`); every other parameter is the client
    /// library's.
    pub fn parse(url: &str) -> Result<Self, String> {
        let (base, query) = url.split_once('?').unwrap_or((url, ""));
        let mut mode = SslMode::Prefer;
        let mut root_cert = None;
        let mut rest = form_urlencoded::Serializer::new(String::new());
        for (k, v) in form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "sslmode" => mode = SslMode::parse(&v)?,
                "sslrootcert" => root_cert = Some(PathBuf::from(&*v)),
                _ => {
                    rest.append_pair(&k, &v);
                }
            }
        }
        let rest = rest.finish();
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{rest}")
        };
        let mut config: postgres::Config = url.parse().map_err(|e| {
            format!(
                "not a PostgreSQL URL ({e}): expected postgres://user:password@host:port/dbname"
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        config.application_name("xconnect");
        config.ssl_mode(match mode {
            SslMode::Disable => postgres::config::SslMode::Disable,
            SslMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        let tls = match mode {
            SslMode::Disable => None,
            _ => Some(MakeRustlsConnect::new(client_config(
                mode,
                root_cert.as_deref(),
            )?)),
        };
        Ok(Self { config, mode, tls })
    }

    /// The client library's configuration (host, port, user, database, timeouts).
    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    pub fn ssl_mode(&self) -> SslMode {
        self.mode
    }

    /// Opens a connection, secured as the URL asked.
    pub(crate) fn connect(&self) -> Result<postgres::Client, postgres::Error> {
        match &self.tls {
            None => self.config.connect(postgres::NoTls),
            Some(tls) => self.config.connect(tls.clone()),
        }
    }
}

/// The TLS client for `mode`: which certificates it accepts.
fn client_config(mode: SslMode, root_cert: Option<&Path>) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    // As libpq: `require` with a CA file checks as `verify-ca`.
    let checked = matches!(
        (mode, root_cert),
        (SslMode::VerifyCa | SslMode::VerifyFull, _) | (SslMode::Require, Some(_))
    );
    let ca = if checked {
        let roots = Arc::new(roots(root_cert)?);
        if mode == SslMode::VerifyFull {
            return Ok(builder.with_root_certificates(roots).with_no_client_auth());
        }
        let webpki =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider.clone())
                .build()
                .map_err(|e| format!("TLS: {e}"))?;
        Some(webpki)
    } else {
        None
    };
    Ok(builder
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Lenient { provider, ca }))
        .with_no_client_auth())
}

/// The CAs of `path` (PEM), or the system's.
fn roots(path: Option<&Path>) -> Result<rustls::RootCertStore, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certs: Vec<CertificateDer<'static>> = match path {
        Some(p) => CertificateDer::pem_file_iter(p)
            .and_then(|i| i.collect::<Result<_, _>>())
            .map_err(|e| format!("sslrootcert={}: {e}", p.display()))?,
        None => rustls_native_certs::load_native_certs().certs,
    };
    let (added, _) = roots.add_parsable_certificates(certs);
    if added == 0 {
        return Err(match path {
            Some(p) => format!("sslrootcert={}: no CA certificate in it", p.display()),
            None => "no CA certificate in the system's trust store: give sslrootcert=PATH".into(),
        });
    }
    Ok(roots)
}

/// The checks libpq makes short of `verify-full`: none for `prefer` and `require` without a CA
/// (`ca` none: any certificate), the CA's signature whatever name the certificate carries for
/// `verify-ca`. The handshake's signatures are checked either way, so the session is with whoever
/// holds the certificate's key.
#[derive(Debug)]
struct Lenient {
    provider: Arc<rustls::crypto::CryptoProvider>,
    ca: Option<Arc<rustls::client::WebPkiServerVerifier>>,
}

impl rustls::client::danger::ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError::{NotValidForName, NotValidForNameContext};
        let Some(ca) = &self.ca else {
            return Ok(rustls::client::danger::ServerCertVerified::assertion());
        };
        match ca.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                NotValidForName | NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
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
