//! Command line: `run` (the default), `check-config`, `healthcheck`, `sync --once [--full]`,
//! `janitor [--once [--allow-mass-delete]]`; `--config`, `--log-format`.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// DNS service discovery for ECS: keeps weighted Route53 A, AAAA and SRV records for every running labelled task.
#[derive(Debug, Parser)]
#[command(
    version = route53_discovery_actors::build_info::LONG_VERSION,
    about,
    after_help = "Examples:\n  route53-discovery --config config/local.toml          # local dry run, no AWS needed\n  route53-discovery check-config --config config/prod.toml\n  route53-discovery sync --once --config config/prod.toml   # one launch sync, then exit\n  route53-discovery healthcheck                           # exit 0 when /healthz answers 200\n  route53-discovery janitor --config config/prod.toml      # the janitor service (one per cluster and zone)\n  route53-discovery janitor --once --allow-mass-delete --config config/prod.toml   # approve a braked clean-up\n  route53-discovery --log-format json --config config/prod.toml   # JSON logs, one object per line"
)]
pub struct Cli {
    /// TOML file layered over the built-in defaults (environment variables R53D__SECTION__KEY override both).
    #[arg(long, short, global = true, value_name = "FILE", env = "R53D_CONFIG")]
    pub config: Option<PathBuf>,
    /// Log format, overriding `log.format`: human (default) or json (one object per line).
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["human", "json"])]
    pub log_format: Option<String>,
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the agent (the default).
    Run,
    /// Validate the configuration, print every problem, exit 64 if there are any.
    CheckConfig,
    /// Sync once: register running labelled containers, remove this instance's stale records, then exit.
    Sync {
        /// Required: run one sync and exit (the long-running mode is `run`).
        #[arg(long, required = true)]
        once: bool,
        /// Read the whole zone instead of trusting the journal (agent.state_dir), and write a fresh journal.
        #[arg(long)]
        full: bool,
    },
    /// Probe the running agent's /healthz (at health.listen); exit 0 when healthy, 1 otherwise.
    Healthcheck,
    /// Run the janitor: remove the records of this cluster's hosts that EC2 reports gone (terminated, stopped or
    /// unknown) for janitor.grace_secs, until a signal. One per cluster and zone (an ECS service of one task).
    Janitor {
        /// Clean up once and exit, without the grace period: the brake (janitor.max_owners_per_cycle) holds
        /// unless --allow-mass-delete. Exit 0 done, 2 braked, 1 error.
        #[arg(long)]
        once: bool,
        /// With --once: approve removing more owners than the brake allows.
        #[arg(long, requires = "once")]
        allow_mass_delete: bool,
    },
}
