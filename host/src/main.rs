//! `rebar`: the command-line program. Run `rebar --help` for the subcommands and options.

// Every `println!` and `print!` of the program (they are declared before the modules that use
// them, so they shadow std's) goes through `stdout::write`, which ends the program quietly when
// stdout's reader has gone (`rebar … | head`): see `stdout`.
macro_rules! println {
    () => {
        $crate::stdout::write(format_args!(""), true)
    };
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), true)
    };
}
macro_rules! print {
    ($($arg:tt)*) => {
        $crate::stdout::write(format_args!($($arg)*), false)
    };
}

mod stdout;

mod cli;

use std::process::ExitCode;

use clap::Parser;
use cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result: Result<(), Box<dyn std::error::Error>> = match &cli.command {
        Command::PrepareMnist(args) => cli::prepare::run(args).map_err(Into::into),
        Command::Footprint => {
            print!("{}", rebar_host::footprint::markdown_table());
            Ok(())
        }
        Command::Eval(args) => cli::eval::run(args),
        Command::Export(args) => cli::export::run(args),
        Command::Sample(args) => cli::sample::run(args),
        Command::Toy(args) => cli::toy::run(args),
        Command::Variance(args) => cli::variance::run(args),
        Command::Sweep(args) => cli::sweep::run(args),
        Command::Reproduce(args) => cli::reproduce::run(args),
        Command::Table(args) => cli::table::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::Train(args) => cli::train::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rebar: error: {}", error_chain(e.as_ref()));
            ExitCode::FAILURE
        }
    }
}

/// The error and its sources, joined by ": ".
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let c = cause.to_string();
        if !s.contains(&c) {
            s.push_str(": ");
            s.push_str(&c);
        }
        source = cause.source();
    }
    s
}
