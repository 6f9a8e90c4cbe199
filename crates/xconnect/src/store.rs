//! `xconnect store`: operations on a stopped installation's database.

use anyhow::Context;

#[derive(Debug, clap::Subcommand)]
pub enum StoreCommand {
    /// Copy an installation from SQLite to a new PostgreSQL database: every account, key,
    /// sealed secret, connection, link and its numbers, event and gateway credential, in one
    /// transaction. Stop the server first; start the servers on the target with the same
    /// master key (the data dir's master.key).
    Copy {
        /// The source, as sqlite:PATH (a server's is DATA_DIR/xconnect.db).
        #[arg(long, value_name = "sqlite:PATH")]
        from: xc_store::Database,
        /// The target, an empty PostgreSQL database: postgres://USER:PASSWORD@HOST:PORT/DBNAME
        /// (or set XCONNECT_DATABASE).
        #[arg(
            long,
            env = "XCONNECT_DATABASE",
            hide_env_values = true,
            value_name = "URL"
        )]
        to: xc_store::Database,
    },
}

pub async fn run(command: StoreCommand) -> anyhow::Result<()> {
    match command {
        StoreCommand::Copy { from, to } => {
            let xc_store::Database::Sqlite(path) = &from else {
                anyhow::bail!("--from must be a SQLite database (sqlite:PATH)");
            };
            if !matches!(to, xc_store::Database::Postgres(_)) {
                anyhow::bail!("--to must be a PostgreSQL database (postgres://...)");
            }
            let path = path.clone();
            let target = to.clone();
            let copied = tokio::task::spawn_blocking(move || {
                xc_store::copy::sqlite_to_postgres(&path, &target, |table, rows| {
                    eprintln!("  {table:<28} {rows:>10} rows");
                })
            })
            .await
            .context("the copy stopped")?
            .with_context(|| format!("cannot copy {from} to {to}"))?;
            println!(
                "copied {} rows in {} tables from {from} to {to}",
                copied.rows(),
                copied.tables.len()
            );
            Ok(())
        }
    }
}
