//! A fake EC2 instance metadata service that follows the IMDSv2 contract (`shared/reference/addressing.md` §3):
//! `PUT /latest/api/token` needs `X-aws-ec2-metadata-token-ttl-seconds` (1–21600, else 400) and returns a token
//! with that TTL header; `GET /latest/meta-data/<path>` needs a valid `X-aws-ec2-metadata-token` (else 401, so an
//! IMDSv1 GET is never answered), unknown paths are 404. Modes make it refuse (403), lie (200 garbage) or hang.
//!
//! It runs on 127.0.0.1 in its own thread and actix system (like the fake ECS agent) and logs every request.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::{web, HttpRequest, HttpResponse};

const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const NOT_FOUND_BODY: &str = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<html><head><title>404 - Not Found</title></head><body><h1>404 - Not Found</h1></body></html>\n";

/// How the fake behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The IMDSv2 contract.
    Normal,
    /// 403 for everything (IMDS turned off for the instance).
    Forbidden,
    /// Tokens work; every metadata value is a 200 with a body that is no address.
    Garbage,
    /// Accepts connections and never answers.
    Hang,
}

/// One request the fake saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// `PUT` or `GET` (or anything else a client sent).
    pub method: String,
    /// The request path.
    pub path: String,
    /// Whether it carried a token this fake issued and that had not expired.
    pub valid_token: bool,
    /// The status answered (0 for a hung request).
    pub status: u16,
}

/// Request counts, for asserting IMDSv2 use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// `PUT /latest/api/token` requests.
    pub token_puts: usize,
    /// `GET`s that carried a valid token.
    pub gets_with_token: usize,
    /// `GET`s without a valid token (IMDSv1 style, or a stale token).
    pub gets_without_token: usize,
    /// `GET`s without a valid token that were answered 200 (must stay 0).
    pub v1_answered: usize,
}

struct State {
    ipv4: Option<Ipv4Addr>,
    ipv6: Option<Ipv6Addr>,
    instance_id: String,
    mode: Mode,
    tokens: HashMap<String, Instant>,
    issued: u64,
    seen: Vec<Seen>,
}

type Shared = web::Data<Arc<Mutex<State>>>;

/// The running fake IMDS.
pub struct FakeImds {
    /// Base URL (`http://127.0.0.1:<port>`), for `agent.imds_endpoint` or `ImdsSource::Endpoint`.
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// Instance id the fake reports by default.
pub const INSTANCE_ID: &str = "i-0123456789abcdef0";

fn text(status: u16, body: impl Into<String>) -> HttpResponse {
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("text/plain")
        .body(body.into())
}

fn log(state: &mut State, req: &HttpRequest, valid_token: bool, status: u16) {
    state.seen.push(Seen {
        method: req.method().to_string(),
        path: req.path().to_string(),
        valid_token,
        status,
    });
}

/// Never answers (the client's read timeout ends the request).
async fn hang() -> HttpResponse {
    std::future::pending::<HttpResponse>().await
}

async fn token(req: HttpRequest, state: Shared) -> HttpResponse {
    match answer_token(&req, &state) {
        Some(resp) => resp,
        None => hang().await,
    }
}

/// The token answer; `None`: hang.
fn answer_token(req: &HttpRequest, state: &Shared) -> Option<HttpResponse> {
    let mut s = state.lock().unwrap();
    let ttl = req
        .headers()
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|t| (1..=21_600).contains(t));
    let resp = match (s.mode, ttl) {
        (Mode::Hang, _) => {
            log(&mut s, req, false, 0);
            return None;
        }
        (Mode::Forbidden, _) => text(403, ""),
        (_, None) => text(400, ""),
        (_, Some(ttl)) => {
            s.issued += 1;
            let token = format!("AQAEAFake{:04}Token{}==", s.issued, std::process::id());
            s.tokens
                .insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
            HttpResponse::Ok()
                .content_type("text/plain")
                .insert_header((TTL_HEADER, ttl.to_string()))
                .body(token)
        }
    };
    log(&mut s, req, false, resp.status().as_u16());
    Some(resp)
}

fn value(s: &State, path: &str) -> Option<String> {
    match path {
        "local-ipv4" => s.ipv4.map(|ip| ip.to_string()),
        "ipv6" => s.ipv6.map(|ip| ip.to_string()),
        "instance-id" => Some(s.instance_id.clone()),
        _ => None,
    }
}

async fn meta_data(req: HttpRequest, path: web::Path<String>, state: Shared) -> HttpResponse {
    match answer_get(&req, &path, &state) {
        Some(resp) => resp,
        None => hang().await,
    }
}

/// The metadata answer; `None`: hang.
fn answer_get(req: &HttpRequest, path: &str, state: &Shared) -> Option<HttpResponse> {
    let mut s = state.lock().unwrap();
    let now = Instant::now();
    let valid = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|t| s.tokens.get(t))
        .is_some_and(|expiry| *expiry > now);
    let resp = match s.mode {
        Mode::Hang => {
            log(&mut s, req, valid, 0);
            return None;
        }
        Mode::Forbidden => text(403, ""),
        _ if !valid => text(401, ""),
        Mode::Garbage if value(&s, path).is_some() => text(200, "<html>not an address</html>"),
        _ => match value(&s, path) {
            Some(v) => text(200, v),
            None => HttpResponse::NotFound()
                .content_type("text/html")
                .body(NOT_FOUND_BODY),
        },
    };
    log(&mut s, req, valid, resp.status().as_u16());
    Some(resp)
}

async fn other(req: HttpRequest, state: Shared) -> HttpResponse {
    let mut s = state.lock().unwrap();
    let status = if s.mode == Mode::Forbidden { 403 } else { 404 };
    log(&mut s, &req, false, status);
    text(status, "")
}

impl FakeImds {
    /// Starts a dual-stack instance (`10.0.1.23`, `2600:1f18:abcd::23`, [`INSTANCE_ID`]) on a loopback port.
    pub fn start() -> Self {
        let state = Arc::new(Mutex::new(State {
            ipv4: Some(Ipv4Addr::new(10, 0, 1, 23)),
            ipv6: Some("2600:1f18:abcd::23".parse().unwrap()),
            instance_id: INSTANCE_ID.into(),
            mode: Mode::Normal,
            tokens: HashMap::new(),
            issued: 0,
            seen: Vec::new(),
        }));
        let data = web::Data::new(state.clone());
        let url = super::serve(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone())
                .route("/latest/api/token", web::put().to(token))
                .route("/latest/meta-data/{path:.*}", web::get().to(meta_data))
                .default_service(web::to(other));
        });
        Self { url, state }
    }

    /// Sets `local-ipv4` (`None`: 404, an IPv6-only instance).
    pub fn set_ipv4(&self, ip: Option<Ipv4Addr>) {
        self.state.lock().unwrap().ipv4 = ip;
    }

    /// Sets `ipv6` (`None`: 404, no IPv6).
    pub fn set_ipv6(&self, ip: Option<Ipv6Addr>) {
        self.state.lock().unwrap().ipv6 = ip;
    }

    /// Sets `instance-id`.
    pub fn set_instance_id(&self, id: &str) {
        self.state.lock().unwrap().instance_id = id.into();
    }

    /// Switches the behaviour.
    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().unwrap().mode = mode;
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Counts of token PUTs and GETs with and without a valid token.
    pub fn counts(&self) -> Counts {
        let seen = self.requests();
        let gets = || seen.iter().filter(|r| r.method == "GET");
        Counts {
            token_puts: seen
                .iter()
                .filter(|r| r.method == "PUT" && r.path == "/latest/api/token")
                .count(),
            gets_with_token: gets().filter(|r| r.valid_token).count(),
            gets_without_token: gets().filter(|r| !r.valid_token).count(),
            v1_answered: gets().filter(|r| !r.valid_token && r.status == 200).count(),
        }
    }
}
