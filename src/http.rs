//! The HTTP endpoints: `/healthz` (the process and its actor system respond), `/readyz` (launch sync done, not
//! draining, Docker event stream up) and `/records` (the records this agent holds, as JSON).
//!
//! It reads [`HealthState`] only; it holds no actor address, so it never keeps the pipeline alive in a drain.
//! Its own signal handling is off: only the supervisor reacts to SIGTERM, and stops this server last.

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use route53_discovery_actors::health::{HealthState, NotReady};

use crate::settings::HealthSettings;

/// `/healthz` fails when the actor system has not beaten for this long.
const LIVENESS_LIMIT: Duration = Duration::from_secs(15);

struct State {
    health: Arc<HealthState>,
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

#[derive(serde::Serialize)]
struct RecordView {
    name: String,
    set_identifier: String,
    ip: String,
    ttl: i64,
    weight: i64,
}

async fn records(state: web::Data<State>) -> HttpResponse {
    let list: Vec<RecordView> = state
        .health
        .records()
        .into_iter()
        .map(|r| RecordView {
            name: r.key.name,
            set_identifier: r.key.set_identifier,
            ip: r.ip.to_string(),
            ttl: r.ttl,
            weight: r.weight,
        })
        .collect();
    HttpResponse::Ok().json(list)
}

/// Binds and starts the server on the current actix system; returns its handle for a graceful stop.
pub fn start(settings: &HealthSettings, health: Arc<HealthState>) -> std::io::Result<ServerHandle> {
    let data = web::Data::new(State {
        health,
        stream_down_limit: settings.stream_down_limit,
    });
    let with_records = settings.records;
    let server = HttpServer::new(move || {
        let app = App::new()
            .app_data(data.clone())
            .route("/healthz", web::get().to(healthz))
            .route("/readyz", web::get().to(readyz));
        if with_records {
            app.route("/records", web::get().to(records))
        } else {
            app
        }
    })
    .workers(1)
    .disable_signals()
    .shutdown_timeout(2)
    .bind(settings.listen)?
    .run();
    let handle = server.handle();
    actix_rt::spawn(server);
    tracing::info!(listen = %settings.listen, "Health endpoint listening.");
    Ok(handle)
}
