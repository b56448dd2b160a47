//! Credential endpoints on 127.0.0.1, written from the AWS documentation, and moto's STS:
//!
//! - the container credentials endpoint (ECS task roles, EKS Pod Identity): `GET <uri>` with an
//!   optional `Authorization` token, answering `{AccessKeyId, SecretAccessKey, Token, Expiration}`;
//! - EC2 instance metadata v2: `PUT /latest/api/token` with `X-aws-ec2-metadata-token-ttl-seconds`
//!   (1–21600, else 400) gives a session token; every `GET` needs it in `X-aws-ec2-metadata-token`
//!   (401 without, or once it expired); `/latest/meta-data/iam/security-credentials/` lists the role
//!   and `…/<role>` answers `{Code: "Success", …}`;
//! - STS by moto (`python3 -m moto.server`), a child process.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};

/// Credentials an endpoint hands out.
#[derive(Clone, Debug)]
pub struct Served {
    pub access_key: String,
    pub secret: String,
    pub token: Option<String>,
    /// From the moment of each answer.
    pub expires_in: time::Duration,
}

impl Served {
    pub fn new(access_key: &str, secret: &str, expires_in: time::Duration) -> Served {
        Served {
            access_key: access_key.into(),
            secret: secret.into(),
            token: Some(format!("TOKEN-{access_key}-sessiontoken+/=")),
            expires_in,
        }
    }
}

/// `2026-11-24T13:05:00Z`.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// How an endpoint answers.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Serve,
    /// This status with this body.
    Status(u16, &'static str),
    /// 200 with a body that is not credentials.
    Garbage,
    /// Waits this long before answering normally.
    Slow(Duration),
    /// Credentials whose expiry lies in the past.
    Stale,
    /// An expiry that is not a time.
    BadExpiry,
}

struct ContainerState {
    served: Served,
    /// A new session token with every answer (as STS-backed sources give).
    fresh_tokens: bool,
    behaviour: Behaviour,
    token: Option<String>,
    requests: usize,
    refused: usize,
}

/// The container credentials endpoint.
pub struct ContainerEndpoint {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The path credentials are served at.
    pub path: &'static str,
    state: Arc<Mutex<ContainerState>>,
    task: tokio::task::JoinHandle<()>,
}

fn credentials_json(served: &Served, behaviour: &Behaviour, imds: bool) -> String {
    let expiration = match behaviour {
        Behaviour::Stale => rfc3339(time::OffsetDateTime::now_utc() - time::Duration::hours(1)),
        Behaviour::BadExpiry => "next tuesday".to_owned(),
        _ => rfc3339(time::OffsetDateTime::now_utc() + served.expires_in),
    };
    let mut doc = serde_json::json!({
        "AccessKeyId": served.access_key,
        "SecretAccessKey": served.secret,
        "Expiration": expiration,
    });
    if let Some(token) = &served.token {
        doc["Token"] = token.clone().into();
    }
    if imds {
        doc["Code"] = "Success".into();
        doc["Type"] = "AWS-HMAC".into();
        doc["LastUpdated"] = rfc3339(time::OffsetDateTime::now_utc()).into();
    } else {
        doc["RoleArn"] = "arn:aws:iam::123456789012:role/test-task-role".into();
    }
    doc.to_string()
}

async fn container_handler(State(state): State<Arc<Mutex<ContainerState>>>, headers: HeaderMap, uri: Uri) -> Response {
    let (behaviour, served) = {
        let mut s = state.lock().unwrap();
        s.requests += 1;
        if let Some(expected) = &s.token {
            let given = headers.get("authorization").and_then(|v| v.to_str().ok());
            if given != Some(expected.as_str()) {
                s.refused += 1;
                return (
                    StatusCode::UNAUTHORIZED,
                    r#"{"code":"AccessDenied","message":"Invalid authorization token"}"#,
                )
                    .into_response();
            }
        }
        let mut served = s.served.clone();
        if s.fresh_tokens
            && let Some(token) = &mut served.token
        {
            token.push_str(&format!("-{}", s.requests));
        }
        (s.behaviour.clone(), served)
    };
    if uri.path() != "/v2/credentials/task-role" && uri.path() != "/v1/credentials" {
        return (StatusCode::NOT_FOUND, "{}").into_response();
    }
    match behaviour {
        Behaviour::Status(code, body) => {
            (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response()
        }
        Behaviour::Garbage => (StatusCode::OK, "<html>it works!</html>").into_response(),
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, credentials_json(&served, &Behaviour::Serve, false)).into_response()
        }
        other => (StatusCode::OK, credentials_json(&served, &other, false)).into_response(),
    }
}

impl ContainerEndpoint {
    pub async fn start(served: Served) -> ContainerEndpoint {
        let state = Arc::new(Mutex::new(ContainerState {
            served,
            fresh_tokens: false,
            behaviour: Behaviour::Serve,
            token: None,
            requests: 0,
            refused: 0,
        }));
        let app = axum::Router::new().fallback(container_handler).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        ContainerEndpoint { base, path: "/v2/credentials/task-role", state, task }
    }

    /// The full URI (EKS Pod Identity style).
    pub fn full_uri(&self) -> String {
        format!("{}{}", self.base, self.path)
    }

    pub fn require_token(&self, token: &str) {
        self.state.lock().unwrap().token = Some(token.into());
    }

    pub fn serve(&self, served: Served) {
        self.state.lock().unwrap().served = served;
    }

    /// Gives a new session token with every answer.
    pub fn fresh_tokens(&self) {
        self.state.lock().unwrap().fresh_tokens = true;
    }

    pub fn behave(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    pub fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    pub fn refused(&self) -> usize {
        self.state.lock().unwrap().refused
    }

    /// Stops listening: connections are refused from now on.
    pub async fn stop(&self) {
        self.task.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl Drop for ContainerEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What instance metadata does, and what it saw.
pub struct ImdsState {
    pub served: Served,
    /// `None`: no role attached (404).
    pub role: Option<String>,
    /// Issued tokens and when each expires.
    tokens: Vec<(String, Instant)>,
    /// Tokens live this long whatever was asked (to test a token expiring).
    pub token_life: Option<Duration>,
    pub behaviour: Behaviour,
    /// Answer this many credential reads with 500 before serving.
    pub failures_left: usize,
    /// The token request is accepted and never answered (the hop-limit symptom).
    pub silent_token: bool,
    pub token_requests: usize,
    pub ttls_asked: Vec<String>,
    pub reads_with_token: usize,
    pub reads_refused: usize,
}

/// EC2 instance metadata, IMDSv2.
pub struct Imds {
    /// `http://127.0.0.1:<port>`.
    pub endpoint: String,
    pub state: Arc<Mutex<ImdsState>>,
    task: tokio::task::JoinHandle<()>,
}

async fn imds_handler(
    State(state): State<Arc<Mutex<ImdsState>>>,
    method: Method,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    if uri.path() == "/latest/api/token" {
        if method != Method::PUT {
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        let silent = {
            let mut s = state.lock().unwrap();
            s.token_requests += 1;
            s.silent_token
        };
        if silent {
            tokio::time::sleep(Duration::from_secs(3600)).await;
        }
        let Some(ttl) = header("x-aws-ec2-metadata-token-ttl-seconds") else {
            return StatusCode::BAD_REQUEST.into_response();
        };
        let Ok(seconds) = ttl.parse::<u64>() else { return StatusCode::BAD_REQUEST.into_response() };
        if !(1..=21_600).contains(&seconds) {
            return StatusCode::BAD_REQUEST.into_response();
        }
        let mut s = state.lock().unwrap();
        s.ttls_asked.push(ttl);
        let token = format!("imds-token-{}-{}", s.token_requests, std::process::id());
        let life = s.token_life.unwrap_or(Duration::from_secs(seconds));
        s.tokens.push((token.clone(), Instant::now() + life));
        return (StatusCode::OK, [("x-aws-ec2-metadata-token-ttl-seconds", seconds.to_string())], token)
            .into_response();
    }
    if method != Method::GET {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let (behaviour, served, role) = {
        let mut s = state.lock().unwrap();
        let given = header("x-aws-ec2-metadata-token");
        let valid = given.is_some_and(|t| s.tokens.iter().any(|(token, until)| *token == t && Instant::now() < *until));
        if !valid {
            s.reads_refused += 1;
            return StatusCode::UNAUTHORIZED.into_response();
        }
        s.reads_with_token += 1;
        (s.behaviour.clone(), s.served.clone(), s.role.clone())
    };
    const PREFIX: &str = "/latest/meta-data/iam/security-credentials/";
    let Some(rest) = uri.path().strip_prefix(PREFIX) else { return StatusCode::NOT_FOUND.into_response() };
    let Some(role) = role else { return StatusCode::NOT_FOUND.into_response() };
    if rest.is_empty() {
        return (StatusCode::OK, role).into_response();
    }
    if rest != role {
        return StatusCode::NOT_FOUND.into_response();
    }
    {
        let mut s = state.lock().unwrap();
        if s.failures_left > 0 {
            s.failures_left -= 1;
            return (StatusCode::INTERNAL_SERVER_ERROR, "try later").into_response();
        }
    }
    match behaviour {
        Behaviour::Status(code, body) => {
            (StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), body).into_response()
        }
        Behaviour::Garbage => (StatusCode::OK, "\u{0}\u{1}binary noise").into_response(),
        Behaviour::Slow(d) => {
            tokio::time::sleep(d).await;
            (StatusCode::OK, credentials_json(&served, &Behaviour::Serve, true)).into_response()
        }
        other => (StatusCode::OK, credentials_json(&served, &other, true)).into_response(),
    }
}

impl Imds {
    pub async fn start(served: Served) -> Imds {
        let state = Arc::new(Mutex::new(ImdsState {
            served,
            role: Some("test-instance-role".into()),
            tokens: Vec::new(),
            token_life: None,
            behaviour: Behaviour::Serve,
            failures_left: 0,
            silent_token: false,
            token_requests: 0,
            ttls_asked: Vec::new(),
            reads_with_token: 0,
            reads_refused: 0,
        }));
        let app = axum::Router::new().fallback(imds_handler).with_state(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Imds { endpoint, state, task }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut ImdsState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }
}

impl Drop for Imds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// moto's server (STS), a child process on 127.0.0.1.
pub struct Moto {
    pub endpoint: String,
    child: Child,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts moto. `None` (after saying so) when it is not installed outside CI; under CI, or with
/// `STOWAGE_REQUIRE_MOTO`, a missing moto fails.
pub fn moto() -> Option<Moto> {
    let installed = Command::new("python3")
        .args(["-c", "import moto.server, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !super::available("moto", installed, "python3 -m pip install 'moto[server]'") {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let child = Command::new("python3")
        .args(["-m", "moto.server", "-H", "127.0.0.1", "-p", &port.to_string()])
        .env("BOTO_DISABLE_CRT", "true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start moto");
    let moto = Moto { endpoint: format!("http://127.0.0.1:{port}"), child };
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "moto did not start within 30 s");
        std::thread::sleep(Duration::from_millis(50));
    }
    Some(moto)
}
