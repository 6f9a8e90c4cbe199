//! `xconnect`: one binary for the control plane server and the CLI.
//!
//! ```text
//! xconnect server ...            the control plane (HTTP API, lifecycle driver; SQLite or PostgreSQL)
//! xconnect store copy ...        move an installation from SQLite to PostgreSQL
//! xconnect gateway run|status    the gateway agent (links: TAP + MACsec + VXLAN, MKA, BGP, BFD)
//! xconnect demo                  two VPCs in network namespaces, connected end to end
//! xconnect <resource> <verb> ... the CLI, a client of the native API
//! ```

mod cli;
mod demo;
mod gateway;
mod output;
mod server;
mod store;

use clap::Parser;

#[derive(Debug, Parser)]
#[command(
    name = "xconnect",
    version,
    about = "Private, MACsec-encrypted interconnects between networks"
)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Run the control plane server.
    Server(server::ServerArgs),
    /// The gateway agent: run one, or show a running one's status.
    Gateway {
        #[command(subcommand)]
        command: gateway::GatewayCommand,
    },
    /// The server's database, while no server uses it.
    Store {
        #[command(subcommand)]
        command: store::StoreCommand,
    },
    /// Build two VPCs in network namespaces, connect them through a server and four gateways,
    /// and show traffic crossing (root; Ctrl-C removes everything).
    Demo(demo::DemoArgs),
    #[command(flatten)]
    Cli(cli::CliCommand),
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match args.command {
            Command::Server(a) => server::run(a).await,
            Command::Gateway { command } => gateway::run(command).await,
            Command::Store { command } => store::run(command).await,
            Command::Demo(a) => demo::run(a).await,
            Command::Cli(c) => cli::run(c).await,
        }
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line, for people and scripts alike.
            let msg = format!("{e:#}").replace('\n', " ");
            eprintln!("error: {msg}");
            std::process::ExitCode::FAILURE
        }
    }
}
