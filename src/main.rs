//! The binary: parse the command line, load settings (exit 64 on any problem), set up logging, run.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use route53_discovery::cli::{Cli, Command};
use route53_discovery::settings::{self, LogFormat, Mode, Settings};
use route53_discovery::{RunMode, EXIT_CONFIG};
use tracing_subscriber::EnvFilter;

/// Crates that could log credentials, signatures or whole request bodies at debug/trace level: capped at info
/// whatever the configured level, so secrets and bodies never reach the logs.
const CAPPED: &[&str] = &[
    "aws_sigv4=info",
    "aws_smithy_runtime=info",
    "aws_smithy_runtime_api=info",
    "aws_smithy_http_client=info",
    "aws_config=info",
    "aws_credential_types=info",
    "aws_sdk_route53=info",
    "aws_sdk_ecs=info",
    "hyper=info",
    "hyper_util=info",
    "h2=info",
    "awc=info",
    "actix_http=info",
];

fn init_logging(settings: &Settings) {
    let mut filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.log.level));
    for directive in CAPPED {
        filter = filter.add_directive(directive.parse().expect("valid directive"));
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match settings.log.format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Human => builder.init(),
    }
}

/// Resolves at the first SIGTERM or SIGINT; a second one exits at once.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        tracing::error!("Cannot install signal handlers.");
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!(signal = "SIGTERM", "Signal received."),
        _ = int.recv() => tracing::info!(signal = "SIGINT", "Signal received."),
    }
    actix_rt::spawn(async move {
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        tracing::warn!("Second signal: exiting without draining.");
        std::process::exit(130);
    });
}

/// GET /healthz on the configured address (the default one when the configuration does not load) with a short
/// timeout; true on 200.
fn probe(settings: Option<&Settings>) -> bool {
    let default = std::net::SocketAddr::from(([127, 0, 0, 1], 9253));
    let mut addr = settings.map_or(default, |s| s.health.listen);
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    let mut response = String::new();
    stream.write_all(request.as_bytes()).is_ok()
        && stream.read_to_string(&mut response).is_ok()
        && response.starts_with("HTTP/1.1 200")
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let loaded = settings::load(cli.config.as_deref());
    if let Some(Command::Healthcheck) = cli.command {
        return ExitCode::from(if probe(loaded.as_ref().ok()) { 0 } else { 1 });
    }
    let mut settings = match loaded {
        Ok(s) => s,
        Err(e) => {
            eprintln!("route53-discovery: {e}");
            return ExitCode::from(EXIT_CONFIG as u8);
        }
    };
    match cli.log_format.as_deref() {
        Some("json") => settings.log.format = LogFormat::Json,
        Some(_) => settings.log.format = LogFormat::Human,
        None => {}
    }
    match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => {
            println!("configuration is valid");
            ExitCode::SUCCESS
        }
        Command::Sync { full, .. } => {
            settings.agent.full_read = full;
            init_logging(&settings);
            let code = route53_discovery::run_with(settings, shutdown_signal(), RunMode::Once);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::Janitor { .. } if settings.agent.mode == Mode::DryRun => {
            eprintln!("route53-discovery: the janitor does not run in dry-run mode (agent.mode)");
            ExitCode::from(EXIT_CONFIG as u8)
        }
        Command::Janitor {
            once: true,
            allow_mass_delete,
        } => {
            init_logging(&settings);
            let code = route53_discovery::janitor_once(settings, allow_mass_delete);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::Janitor { once: false, .. } => {
            init_logging(&settings);
            let code = route53_discovery::run_with(settings, shutdown_signal(), RunMode::Janitor);
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
        Command::Run | Command::Healthcheck => {
            init_logging(&settings);
            let code = route53_discovery::run(settings, shutdown_signal());
            ExitCode::from(u8::try_from(code).unwrap_or(1))
        }
    }
}
