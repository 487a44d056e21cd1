//! A fault-injecting proxy in front of moto_server: it forwards every request, except that the next change
//! requests (`POST .../rrset`) can be answered with Route53 errors instead, or forwarded late (after the agent
//! has timed out: the change lands at Route53 although the agent saw a failure).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use actix_web::{web, HttpRequest, HttpResponse};

/// What to do with one change request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer HTTP 400 `Throttling: Rate exceeded`.
    Throttle,
    /// Answer HTTP 400 `PriorRequestNotComplete`.
    PriorRequestNotComplete,
    /// Answer HTTP 503.
    Unavailable,
    /// Answer HTTP 403 `ExpiredToken`: the request's credentials are rejected as expired.
    ExpiredToken,
    /// Forward the request after this delay (the forwarding goes on when the agent has given up).
    Delay(std::time::Duration),
}

struct State {
    upstream: String,
    faults: Mutex<VecDeque<Fault>>,
    injected: Mutex<usize>,
}

/// The running proxy.
pub struct FaultyRoute53 {
    /// Its URL, for the agent's `route53.endpoint_url`.
    pub url: String,
    state: Arc<State>,
}

fn error(status: u16, code: &str, message: &str) -> HttpResponse {
    let body = format!(
        r#"<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>e2e</RequestId></ErrorResponse>"#
    );
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
        .content_type("text/xml")
        .body(body)
}

async fn forward(req: HttpRequest, body: web::Bytes, state: web::Data<Arc<State>>) -> HttpResponse {
    let is_change = req.method() == "POST" && req.path().ends_with("/rrset");
    let fault = if is_change {
        state.faults.lock().unwrap().pop_front()
    } else {
        None
    };
    if fault.is_some() {
        *state.injected.lock().unwrap() += 1;
    }
    match &fault {
        Some(Fault::Throttle) => return error(400, "Throttling", "Rate exceeded"),
        Some(Fault::PriorRequestNotComplete) => {
            return error(
                400,
                "PriorRequestNotComplete",
                "The request was rejected because Route 53 was still processing a prior request.",
            )
        }
        Some(Fault::Unavailable) => return HttpResponse::ServiceUnavailable().body(""),
        Some(Fault::ExpiredToken) => {
            return error(
                403,
                "ExpiredToken",
                "The security token included in the request is expired",
            )
        }
        Some(Fault::Delay(_)) | None => {}
    }
    let delay = match fault {
        Some(Fault::Delay(d)) => d,
        _ => std::time::Duration::ZERO,
    };
    let url = format!(
        "{}{}",
        state.upstream,
        req.uri()
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let (method, headers) = (req.method().to_string(), req.headers().clone());
    // A blocking thread finishes the forward even when the agent hangs up meanwhile.
    let result = web::block(move || {
        std::thread::sleep(delay);
        let mut r = ureq::request(&method, &url);
        for (k, v) in headers
            .iter()
            .filter(|(k, _)| *k != "host" && *k != "content-length")
        {
            r = r.set(k.as_str(), v.to_str().unwrap_or_default());
        }
        match r.send_bytes(&body) {
            Ok(resp) | Err(ureq::Error::Status(_, resp)) => {
                let status = resp.status();
                let ctype = resp.content_type().to_string();
                let mut bytes = Vec::new();
                let _ = std::io::Read::read_to_end(&mut resp.into_reader(), &mut bytes);
                Ok((status, ctype, bytes))
            }
            Err(e) => Err(e.to_string()),
        }
    })
    .await;
    match result {
        Ok(Ok((status, ctype, bytes))) => {
            HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap())
                .content_type(ctype)
                .body(bytes)
        }
        _ => HttpResponse::BadGateway().body(""),
    }
}

impl FaultyRoute53 {
    /// Starts the proxy on a free loopback port in front of `upstream`.
    pub fn start(upstream: &str) -> Self {
        let state = Arc::new(State {
            upstream: upstream.into(),
            faults: Mutex::default(),
            injected: Mutex::default(),
        });
        let data = web::Data::new(state.clone());
        let url = super::serve(move |cfg: &mut web::ServiceConfig| {
            cfg.app_data(data.clone()).default_service(web::to(forward));
        });
        Self { url, state }
    }

    /// The next change requests get these faults, in order.
    pub fn inject(&self, faults: impl IntoIterator<Item = Fault>) {
        self.state.faults.lock().unwrap().extend(faults);
    }

    /// Faults injected so far, and faults still queued.
    pub fn counts(&self) -> (usize, usize) {
        (
            *self.state.injected.lock().unwrap(),
            self.state.faults.lock().unwrap().len(),
        )
    }
}
