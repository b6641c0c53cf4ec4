//! `hookgate`: parses the command line, sets up logging, and hands over. Exit codes: 0 ok,
//! 1 the command failed (message printed once, with its causes), 2 bad usage (clap).

use std::process::ExitCode;

use clap::Parser;
use hookgate::app;
use hookgate::cli::{self, Cli, Command, ConfigCommand, LogFormat};
use hookgate::signing::{Secret, SignatureSpec};

fn init_logging(format: LogFormat, filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Serve { config } => {
            init_logging(cli.log_format, &cli.log);
            let source = match config {
                Some(p) => app::ConfigSource::File(p),
                None => app::ConfigSource::Embedded,
            };
            let loaded = app::load(source)?;
            let listener = app::bind(loaded.config.listen).await?;
            app::run(loaded, listener, shutdown_signal()).await?;
        }
        Command::Config(ConfigCommand::Check { file }) => {
            match app::check_config_file(&file).await {
                Ok(msg) => println!("{msg}"),
                Err(msg) => {
                    eprintln!("{msg}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
        Command::Plugin(c) => {
            if !cli::plugin::run(c, &cli.log).await? {
                return Ok(ExitCode::from(1));
            }
        }
        Command::Bench(a) => cli::bench::run(a).await?,
        Command::Store(cli::StoreCommand::Compact { config, data_dir }) => {
            cli::store::compact(config, data_dir).await?
        }
        Command::Events(c) => cli::events::run(c).await?,
        Command::Endpoints(c) => cli::endpoints::run(c).await?,
        Command::Deliveries(c) => cli::deliveries::run(c).await?,
        Command::Keys(c) => cli::keys::run(c).await?,
        Command::Audit(a) => cli::ops::audit(a).await?,
        Command::Stats(a) => cli::ops::stats(a).await?,
        Command::Completions { shell } => cli::completions::write(shell, &mut std::io::stdout()),
        Command::Verify(a) => {
            let spec = SignatureSpec {
                scheme: a.scheme,
                header: a.header_name,
                prefix: a.prefix,
            };
            match cli::verify::run_verify(
                spec,
                Secret::new(a.secret),
                a.headers,
                a.body,
                a.tolerance,
            ) {
                Ok(msg) => println!("{msg}"),
                Err(msg) => {
                    eprintln!("{msg}");
                    return Ok(ExitCode::from(1));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
