//! Talking to the job service over HTTP: the calls (ureq, blocking), the bearer token, and
//! turning every way a call can fail into a [`ClientError`] with its exit status. What the
//! answers mean is left to the commands.

use crate::args::ServerArgs;
use sandmill::error::ExitClass;
use sandmill::text::inert;
use serde::de::DeserializeOwned;
use std::time::Duration;

/// How long to wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to wait for an answer's headers. Long polls ask for at most 30 seconds; uploading
/// a plugin waits for it to be compiled, which [`Client::post_plugin`] allows more for.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(120);
/// How long compiling a plugin (64 MiB at most) in the server's worker may take.
const COMPILE_TIMEOUT: Duration = Duration::from_secs(900);
/// The most JSON read from one answer.
const MAX_JSON: u64 = 256 << 20;

/// Why a call to the job service failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No server or no token was given.
    #[error("{0}")]
    Config(String),
    /// The server answered with an error status and its `{"error": ...}` message.
    #[error("{}", status_message(*status, message))]
    Status {
        /// The HTTP status.
        status: u16,
        /// What the server said, or a description of its answer if it said nothing usable.
        message: String,
    },
    /// Nothing accepts connections at the server's address.
    #[error("cannot connect to {server}: {cause}; is `sandmill serve` running at {server}?")]
    Unreachable {
        /// The server's URL.
        server: String,
        /// Why, as ureq said it.
        cause: String,
    },
    /// The connection failed, broke or timed out: the request may or may not have arrived.
    #[error("{what}: {cause} (the server at {server} may be down or overloaded; try again)")]
    Transport {
        /// The request, like `POST /v1/jobs`.
        what: String,
        /// The server's URL.
        server: String,
        /// Why, as ureq said it.
        cause: String,
    },
    /// The server answered something that is not the documented JSON.
    #[error(
        "{what}: the answer is not what `sandmill serve` answers ({why}); is {server} a \
         Sandmill job service of this version?"
    )]
    Protocol {
        /// The request.
        what: String,
        /// The server's URL.
        server: String,
        /// What was wrong with the answer.
        why: String,
    },
}

/// `v` trimmed, if it is there and not empty.
fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|v| !v.is_empty())
}

/// The message of an error status, with what to do where the status says it.
fn status_message(status: u16, message: &str) -> String {
    match status {
        401 => format!("{message} (check SANDMILL_TOKEN or --token)"),
        429 => format!("{message} (try again once some of your jobs have finished)"),
        s if s >= 500 => format!("the server failed ({s}): {message}"),
        _ => message.to_owned(),
    }
}

impl ClientError {
    /// The exit status class: a request the server refuses is the command's fault (usage),
    /// 413 included, since sending the same body again cannot pass; a full queue (429), a
    /// server error (5xx) and a connection that failed may pass on another try (transient).
    pub fn class(&self) -> ExitClass {
        match self {
            ClientError::Config(_) | ClientError::Protocol { .. } => ExitClass::Usage,
            ClientError::Status { status, .. } if *status == 429 || *status >= 500 => {
                ExitClass::Transient
            }
            ClientError::Status { .. } => ExitClass::Usage,
            ClientError::Unreachable { .. } | ClientError::Transport { .. } => ExitClass::Transient,
        }
    }

    /// Whether the request may have been lost on its way, so that sending it again (with the
    /// same idempotency key) can help.
    pub fn is_lost_answer(&self) -> bool {
        match self {
            ClientError::Status { status, .. } => *status >= 500,
            ClientError::Unreachable { .. } | ClientError::Transport { .. } => true,
            ClientError::Config(_) | ClientError::Protocol { .. } => false,
        }
    }
}

/// A connection to one job service as one tenant.
#[derive(Clone)]
pub struct Client {
    /// The server's URL without a trailing `/`, like `http://127.0.0.1:8480`.
    base: String,
    /// `Bearer TOKEN`.
    authorization: String,
    agent: ureq::Agent,
}

impl Client {
    /// The client of the server and token given by `--server`/`SANDMILL_SERVER` and
    /// `--token`/`SANDMILL_TOKEN`.
    ///
    /// # Errors
    /// If either is missing or empty, or the URL is not `http://HOST[:PORT]`.
    pub fn new(args: &ServerArgs) -> Result<Client, ClientError> {
        let server = given(args.server.as_deref());
        let token = given(args.token.as_deref());
        let (server, token) = match (server, token) {
            (Some(server), Some(token)) => (server, token),
            (None, _) => {
                return Err(ClientError::Config(
                    "no job service given: pass --server URL or set SANDMILL_SERVER (like \
                     http://127.0.0.1:8480), and --token TOKEN or SANDMILL_TOKEN"
                        .into(),
                ));
            }
            (Some(_), None) => {
                return Err(ClientError::Config(
                    "no token given: pass --token TOKEN or set SANDMILL_TOKEN (the token \
                     `sandmill tenant add` printed)"
                        .into(),
                ));
            }
        };
        let base = server.trim_end_matches('/');
        if base.starts_with("https://") {
            return Err(ClientError::Config(format!(
                "--server {}: this sandmill speaks plain HTTP only (built without TLS); use \
                 http:// to a server on a trusted network",
                inert(base)
            )));
        }
        let Some(host) = base.strip_prefix("http://") else {
            return Err(ClientError::Config(format!(
                "--server {}: not an http:// URL (like http://127.0.0.1:8480)",
                inert(base)
            )));
        };
        if host.is_empty() || host.contains(['/', '?', '#']) {
            return Err(ClientError::Config(format!(
                "--server {}: give the server's address only, like http://127.0.0.1:8480",
                inert(base)
            )));
        }
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(ANSWER_TIMEOUT))
            .user_agent(concat!("sandmill/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent();
        Ok(Client {
            base: base.to_owned(),
            authorization: format!("Bearer {token}"),
            agent,
        })
    }

    /// The server's URL.
    pub fn server(&self) -> &str {
        &self.base
    }

    /// `GET path` (with `query`), its JSON answer.
    pub fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<T, ClientError> {
        let what = format!("GET {path}");
        self.json(&what, self.get(path, query).call())
    }

    /// `GET path` (with `query`): its JSON answer as the server wrote it, for `--json`.
    pub fn get_json_text(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<String, ClientError> {
        let what = format!("GET {path}");
        let answer = self.checked(&what, self.get(path, query).call())?;
        let text = answer
            .into_body()
            .with_config()
            .limit(MAX_JSON)
            .read_to_string()
            .map_err(|e| self.transport_error(&what, e))?;
        // Checked, so that a proxy's error page is not handed on as the answer.
        serde_json::from_str::<serde::de::IgnoredAny>(&text).map_err(|e| {
            ClientError::Protocol {
                what,
                server: self.base.clone(),
                why: e.to_string(),
            }
        })?;
        Ok(text)
    }

    /// `POST path` with a JSON body (and `headers`), its JSON answer.
    pub fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        body: &serde_json::Value,
        headers: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let what = format!("POST {path}");
        let mut request = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.authorization)
            .content_type("application/json");
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let answer = request.send(body.to_string());
        self.json(&what, answer)
    }

    /// `POST /v1/plugins` with the component's bytes: its answer, `201` or `200` alike.
    pub fn post_plugin<T: DeserializeOwned>(&self, wasm: &[u8]) -> Result<T, ClientError> {
        let path = "/v1/plugins";
        let answer = self
            .agent
            .post(self.url(path))
            .header("Authorization", &self.authorization)
            .content_type("application/wasm")
            .config()
            .timeout_recv_response(Some(COMPILE_TIMEOUT))
            .build()
            .send(wasm);
        self.json(&format!("POST {path}"), answer)
    }

    /// `PUT path` with a file's bytes as the body (its length as `Content-Length`).
    pub fn put_file(&self, path: &str, file: &std::fs::File) -> Result<(), ClientError> {
        let what = format!("PUT {path}");
        let answer = self
            .agent
            .put(self.url(path))
            .header("Authorization", &self.authorization)
            .content_type("application/octet-stream")
            .send(file);
        self.checked(&what, answer).map(drop)
    }

    /// `GET path` (with `query`), its body as a reader, for a file of any size.
    pub fn get_reader(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> Result<ureq::BodyReader<'static>, ClientError> {
        let what = format!("GET {path}");
        let answer = self.checked(&what, self.get(path, query).call())?;
        Ok(answer.into_body().into_reader())
    }

    /// A `GET path?query` request with the token.
    fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> ureq::RequestBuilder<ureq::typestate::WithoutBody> {
        let request = self
            .agent
            .get(self.url(path))
            .header("Authorization", &self.authorization);
        query.iter().fold(request, |r, (k, v)| r.query(*k, v))
    }

    /// The URL of `path`.
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A successful answer, or the error it or its absence means.
    fn checked(
        &self,
        what: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<ureq::http::Response<ureq::Body>, ClientError> {
        let mut answer = answer.map_err(|e| self.transport_error(what, e))?;
        let status = answer.status().as_u16();
        if answer.status().is_success() {
            return Ok(answer);
        }
        let body = answer
            .body_mut()
            .with_config()
            .limit(1 << 20)
            .read_to_string()
            .unwrap_or_default();
        Err(ClientError::Status {
            status,
            message: error_message(status, &body),
        })
    }

    /// A successful answer's JSON.
    fn json<T: DeserializeOwned>(
        &self,
        what: &str,
        answer: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClientError> {
        let answer = self.checked(what, answer)?;
        answer
            .into_body()
            .with_config()
            .limit(MAX_JSON)
            .read_json()
            .map_err(|e| match e {
                ureq::Error::Json(e) => ClientError::Protocol {
                    what: what.to_owned(),
                    server: self.base.clone(),
                    why: e.to_string(),
                },
                e => self.transport_error(what, e),
            })
    }

    /// What a failed call means: nobody listening, or a call that broke on the way.
    fn transport_error(&self, what: &str, source: ureq::Error) -> ClientError {
        let refused = match &source {
            ureq::Error::Io(e) => e.kind() == std::io::ErrorKind::ConnectionRefused,
            ureq::Error::HostNotFound => true,
            _ => false,
        };
        // Without ureq's `io: ` before an I/O error.
        let cause = match &source {
            ureq::Error::Io(e) => e.to_string(),
            e => e.to_string(),
        };
        if refused {
            ClientError::Unreachable {
                server: self.base.clone(),
                cause,
            }
        } else {
            ClientError::Transport {
                what: what.to_owned(),
                server: self.base.clone(),
                cause,
            }
        }
    }
}

/// The message of an error answer: its `{"error": ...}`, or failing that what it was.
fn error_message(status: u16, body: &str) -> String {
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        error: String,
    }
    match serde_json::from_str::<ErrorBody>(body) {
        Ok(e) => inert(&e.error).into_owned(),
        Err(_) => {
            let reason = ureq::http::StatusCode::from_u16(status)
                .ok()
                .and_then(|s| s.canonical_reason())
                .unwrap_or("error");
            let body = body.trim();
            if body.is_empty() {
                format!("the server answered {status} {reason}")
            } else {
                let shown: String = body.chars().take(200).collect();
                format!("the server answered {status} {reason}: {}", inert(&shown))
            }
        }
    }
}

/// `s` as one URL path segment: everything but RFC 3986's unreserved characters
/// percent-encoded (so `/`, `?`, `#` and `%` in a name cannot change the URL's shape).
pub fn segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A relative `/`-separated path as URL path segments, each encoded by [`segment`].
pub fn path_segments(path: &str) -> String {
    path.split('/').map(segment).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(server: Option<&str>, token: Option<&str>) -> ServerArgs {
        ServerArgs {
            server: server.map(str::to_owned),
            token: token.map(str::to_owned),
        }
    }

    #[test]
    fn a_missing_server_or_token_names_the_flag_and_the_variable() {
        let cases = [
            (None, Some("t"), ["--server", "SANDMILL_SERVER"]),
            (Some("  "), Some("t"), ["--server", "SANDMILL_SERVER"]),
            (Some("http://h:1"), None, ["--token", "SANDMILL_TOKEN"]),
            (Some("http://h:1"), Some(""), ["--token", "SANDMILL_TOKEN"]),
        ];
        for (s, t, names) in cases {
            let Err(err) = Client::new(&server(s, t)) else {
                panic!("{s:?} {t:?} accepted");
            };
            let message = err.to_string();
            for name in names {
                assert!(message.contains(name), "{message}");
            }
            assert_eq!(err.class(), ExitClass::Usage);
        }
    }

    #[test]
    fn only_a_plain_http_address_is_a_server() {
        for bad in ["https://h:1", "h:1", "ftp://h", "http://", "http://h:1/v1"] {
            let err = Client::new(&server(Some(bad), Some("t"))).err();
            assert!(matches!(err, Some(ClientError::Config(_))), "{bad}");
        }
        let client = Client::new(&server(Some("http://h:1/"), Some("t"))).unwrap();
        assert_eq!(client.server(), "http://h:1");
        assert_eq!(client.url("/v1/jobs"), "http://h:1/v1/jobs");
    }

    #[test]
    fn statuses_map_to_exit_classes() {
        let cases = [
            (400, ExitClass::Usage, false),
            (401, ExitClass::Usage, false),
            (404, ExitClass::Usage, false),
            (409, ExitClass::Usage, false),
            (413, ExitClass::Usage, false),
            (429, ExitClass::Transient, false),
            (500, ExitClass::Transient, true),
            (503, ExitClass::Transient, true),
        ];
        for (status, class, lost) in cases {
            let err = ClientError::Status {
                status,
                message: "m".into(),
            };
            assert_eq!(err.class(), class, "{status}");
            assert_eq!(err.is_lost_answer(), lost, "{status}");
        }
        let unauthorized = ClientError::Status {
            status: 401,
            message: "unknown token".into(),
        };
        assert!(
            unauthorized.to_string().contains("check SANDMILL_TOKEN"),
            "{unauthorized}"
        );
    }

    #[test]
    fn a_wrong_token_and_a_server_not_running_say_what_to_check() {
        use crate::client::testserver::{TestServer, server_args};
        let running = TestServer::start();
        let client = Client::new(&server_args(&running, "wrong")).unwrap();
        let err = client
            .get_json::<serde_json::Value>("/v1/jobs", &[])
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown token (check SANDMILL_TOKEN or --token)"
        );
        assert_eq!(err.class(), ExitClass::Usage);
        // A port nothing listens on any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = format!("http://127.0.0.1:{port}");
        let client = Client::new(&server(Some(&url), Some("t"))).unwrap();
        let err = client
            .get_json::<serde_json::Value>("/v1/jobs", &[])
            .unwrap_err();
        assert!(matches!(err, ClientError::Unreachable { .. }), "{err:?}");
        let message = err.to_string();
        assert!(
            message.ends_with(&format!("is `sandmill serve` running at {url}?")),
            "{message}"
        );
        assert_eq!(err.class(), ExitClass::Transient);
        assert!(err.is_lost_answer());
    }

    #[test]
    fn a_connection_closed_without_an_answer_is_a_lost_answer() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                drop(stream);
            }
        });
        let client = Client::new(&server(Some(&url), Some("t"))).unwrap();
        let err = client
            .post_json::<serde_json::Value>("/v1/jobs", &serde_json::json!({}), &[])
            .unwrap_err();
        assert!(matches!(err, ClientError::Transport { .. }), "{err:?}");
        assert!(err.is_lost_answer());
        assert!(err.to_string().starts_with("POST /v1/jobs: "), "{err}");
    }

    #[test]
    fn error_answers_give_their_message() {
        assert_eq!(
            error_message(404, r#"{"error": "no job j-1"}"#),
            "no job j-1"
        );
        // A control character from the server is shown escaped, not sent to the terminal.
        assert!(!error_message(400, "{\"error\": \"a\\u001b[2Jb\"}").contains('\u{1b}'));
        assert_eq!(
            error_message(502, "<html>bad gateway</html>"),
            "the server answered 502 Bad Gateway: <html>bad gateway</html>"
        );
        assert_eq!(
            error_message(500, ""),
            "the server answered 500 Internal Server Error"
        );
    }

    #[test]
    fn segments_cannot_change_the_urls_shape() {
        assert_eq!(segment("j-5f3a"), "j-5f3a");
        assert_eq!(segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(path_segments("dir/a b.txt"), "dir/a%20b.txt");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
