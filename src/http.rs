//! The HTTP endpoints: `/healthz` (the process and its actor system respond), `/readyz` (launch sync done, not
//! draining, Docker event stream up), `/metrics` (Prometheus text format) and `/records` (the records this agent
//! holds: JSON, or an HTML table per service for a browser or `?format=html`). All on `health.listen`
//! (loopback by default); `health.metrics_listen`, when set, serves `/metrics` alone on another address, so a
//! scraper can reach the metrics without the rest.
//!
//! It reads [`HealthState`] and [`Metrics`] only; it holds no actor address, so it never keeps the pipeline alive
//! in a drain.
//! Its own signal handling is off: only the supervisor reacts to SIGTERM, and stops this server last.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::http::header;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use route53_discovery_actors::health::{HealthState, NotReady};
use route53_discovery_actors::metrics::Metrics;

use crate::settings::HealthSettings;

/// `/healthz` fails when the actor system has not beaten for this long.
const LIVENESS_LIMIT: Duration = Duration::from_secs(15);

struct State {
    health: Arc<HealthState>,
    metrics: Arc<Metrics>,
    stream_down_limit: Duration,
}

async fn healthz(state: web::Data<State>) -> HttpResponse {
    if state.health.is_live(LIVENESS_LIMIT) {
        HttpResponse::Ok().body("ok\n")
    } else {
        HttpResponse::ServiceUnavailable().body("actor system not responding\n")
    }
}

async fn readyz(state: web::Data<State>) -> HttpResponse {
    match state.health.readiness(state.stream_down_limit) {
        Ok(()) => HttpResponse::Ok().body("ready\n"),
        Err(NotReady::Syncing) => {
            HttpResponse::ServiceUnavailable().body("launch sync in progress\n")
        }
        Err(NotReady::Draining) => HttpResponse::ServiceUnavailable().body("draining\n"),
        Err(NotReady::EventStreamDown) => {
            HttpResponse::ServiceUnavailable().body("docker event stream down\n")
        }
    }
}

async fn metrics(state: web::Data<State>) -> HttpResponse {
    // `r53d_ready` mirrors /readyz as of the scrape: an event stream down too long turns it 0 with no state change.
    let ready = state.health.readiness(state.stream_down_limit).is_ok();
    state.metrics.ready.set(i64::from(ready));
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.encode())
}

/// A record as `/records` shows it.
#[derive(serde::Serialize)]
pub(crate) struct RecordView {
    name: String,
    #[serde(rename = "type")]
    record_type: &'static str,
    /// The value as Route53 holds it (`10.0.0.5`, `1 1 32768 i-0abc.hosts.example.com.`).
    value: String,
    /// The port, for SRV records.
    port: Option<u16>,
    set_identifier: String,
    ttl: i64,
    weight: i64,
}

fn wants_html(req: &HttpRequest) -> bool {
    let query = req.query_string();
    if query.split('&').any(|kv| kv == "format=json") {
        return false;
    }
    query.split('&').any(|kv| kv == "format=html")
        || req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
}

async fn records(req: HttpRequest, state: web::Data<State>) -> HttpResponse {
    let list: Vec<RecordView> = state
        .health
        .records()
        .into_iter()
        .map(|r| RecordView {
            record_type: r.key.record_type.as_str(),
            value: r.value.to_string(),
            port: r.value.port(),
            name: r.key.name,
            set_identifier: r.key.set_identifier,
            ttl: r.ttl,
            weight: r.weight,
        })
        .collect();
    if wants_html(&req) {
        return HttpResponse::Ok()
            .content_type("text/html; charset=utf-8")
            .body(page::render(&list));
    }
    HttpResponse::Ok().json(list)
}

/// The running servers; [`Servers::stop`] stops them all.
pub struct Servers(Vec<ServerHandle>);

impl Servers {
    /// Graceful stop of every server.
    pub async fn stop(self) {
        for h in self.0 {
            h.stop(true).await;
        }
    }
}

/// Binds and runs one server on the current actix system, without its own signal handling; its handle.
macro_rules! serve {
    ($server:expr, $addr:expr) => {{
        let server = $server
            .workers(1)
            .disable_signals()
            .shutdown_timeout(2)
            .bind($addr)?
            .run();
        let handle = server.handle();
        actix_rt::spawn(server);
        handle
    }};
}

/// Binds and starts the servers on the current actix system; returns their handles for a graceful stop.
pub fn start(
    settings: &HealthSettings,
    health: Arc<HealthState>,
    registry: Arc<Metrics>,
) -> std::io::Result<Servers> {
    let data = web::Data::new(State {
        health,
        metrics: registry,
        stream_down_limit: settings.stream_down_limit,
    });
    let with_records = settings.records;
    let main = data.clone();
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(main.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz))
            .route("/metrics", web::get().to(metrics));
        if with_records {
            app.route("/records", web::get().to(records))
        } else {
            app
        }
    });
    let mut handles = vec![serve!(server, settings.listen)];
    tracing::info!(listen = %settings.listen, "Health endpoint listening.");
    if let Some(addr) = settings.metrics_listen {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/metrics", web::get().to(metrics))
        });
        handles.push(serve!(server, addr));
        tracing::info!(listen = %addr, "Metrics endpoint listening.");
    }
    Ok(Servers(handles))
}

mod page;
