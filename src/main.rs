//! `cnitool`: bring up CNI networks by hand, in CI and around container engines.
//!
//! `main` parses the command line, dispatches with one `match`, and turns errors into one
//! line on stderr and a documented exit code.

#![deny(unsafe_code)]
// Every command prints through `output` (`out!`, `outln!`, `diag!`), which copes with a
// closed pipe; `print!` and friends panic on one.
#![deny(clippy::print_stdout, clippy::print_stderr)]

mod builtin;
mod cli;
mod cmd;
mod container;
mod context;
mod error;
mod exit;
#[cfg(test)]
mod gen;
mod interrupt;
mod lint;
mod ns;
mod observe;
mod output;
mod rootless;
mod supervise;
mod sys;
mod table;

use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::cmd::Context;
use crate::output::Output;

fn main() -> ExitCode {
    let argv: Vec<_> = std::env::args_os().collect();
    let parsed = match cli::plain::parse(&argv, |name| std::env::var_os(name)) {
        Some(cli) => Ok(cli),
        None => Cli::try_parse_from(&argv).map_err(|e| cli::usage_without_env(e, &argv)),
    };
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && subcommand_is_run() => {
            // `run` promises 125 for its own failures, bad arguments included.
            let _ = e.print();
            let dashes = std::env::args_os().any(|a| a == "--");
            if e.kind() == clap::error::ErrorKind::UnknownArgument && !dashes {
                crate::diag!(
                    "hint: the command to run goes after `--`: cnitool run [OPTIONS] -- COMMAND [ARGS]..."
                );
            }
            return ExitCode::from(125);
        }
        Err(e) => e.exit(),
    };
    let ctx = match Context::new(&cli.global) {
        Ok(ctx) => ctx,
        Err(err) => return report(&err, cli.global.output),
    };
    // The verbs that run plugins stop them on SIGINT/SIGTERM: ADD rolls back, DEL and GC keep
    // what they did not finish recorded, smoke tears down what it made (before any other
    // thread starts: see `interrupt::install`).
    if matches!(
        cli.command,
        Command::Add(_)
            | Command::Del(_)
            | Command::Check(_)
            | Command::Gc(_)
            | Command::Status(_)
            | Command::Smoke(_)
    ) {
        if let Err(err) = interrupt::install(ctx.cancel.clone()) {
            return report(&err, ctx.output);
        }
    }
    let result = match cli.command {
        Command::Add(args) => cmd::add::run(args, &ctx),
        Command::Check(args) => cmd::check::run(args, &ctx),
        Command::Del(args) => cmd::del::run(args, &ctx),
        Command::Gc(args) => cmd::gc::run(args, &ctx),
        Command::Status(args) => cmd::status::run(args, &ctx),
        Command::List(args) => cmd::list::run(args, &ctx),
        Command::Show(args) => cmd::show::run(args, &ctx),
        Command::Validate(args) => cmd::validate::run(args, &ctx),
        Command::Doctor(args) => cmd::doctor::run(args, &ctx),
        Command::Smoke(args) => cmd::smoke::run(args, &ctx),
        Command::Version(args) => cmd::version::run(args, &ctx),
        Command::Attachments(args) => cmd::attachments::run(args, &ctx),
        Command::Names(args) => cmd::names::run(args, &ctx),
        Command::Netns(args) => cmd::netns::run(args, &ctx),
        Command::Run(args) => cmd::run::run(args, &ctx),
        Command::Container(args) => cmd::container::run(args, &ctx),
        Command::Rootless(args) => cmd::rootless::run(args, &ctx),
        Command::RootlessHolder(args) => {
            rootless::holder::name_helper();
            Ok(rootless::holder::main(&args.gen, args.userns_fd))
        }
        Command::RootlessSandbox(a) => {
            rootless::holder::name_helper();
            Ok(rootless::executor::main(&ctx, &a))
        }
        Command::RootlessKeep => {
            rootless::holder::name_helper();
            loop {
                nix::unistd::pause();
            }
        }
        Command::RootlessUplink(args) => Ok(rootless::command::uplink_main(args)),
    };
    match result {
        Ok(code) => code,
        Err(err) => report(&err, ctx.output),
    }
}

/// Whether the command line's subcommand is `run` (skipping global flags and their values).
fn subcommand_is_run() -> bool {
    let args: Vec<String> = std::env::args().skip(1).collect();
    first_subcommand(&Cli::command(), &args) == Some("run")
}

/// The first word of `args` that is neither a global flag of `cli` nor the value of one
/// (which flags take a value comes from the clap definitions themselves).
fn first_subcommand<'a>(cli: &clap::Command, args: &'a [String]) -> Option<&'a str> {
    let takes_value = |word: &str| {
        cli.get_arguments().any(|arg| {
            arg.get_action().takes_values()
                && match word.strip_prefix("--") {
                    Some(long) => arg
                        .get_long_and_visible_aliases()
                        .is_some_and(|l| l.contains(&long)),
                    None => {
                        let mut short = word.strip_prefix('-').unwrap_or("").chars();
                        let (c, rest) = (short.next(), short.next());
                        rest.is_none() && c.is_some() && arg.get_short() == c
                    }
                }
        })
    };
    let mut words = args.iter();
    while let Some(a) = words.next() {
        if takes_value(a) {
            words.next();
        } else if !a.starts_with('-') {
            return Some(a);
        }
    }
    None
}

/// Prints an error as one line on stderr (and as a CNI error object on stdout with
/// `--output json`) and returns its exit code.
fn report(err: &anyhow::Error, output: Option<Output>) -> ExitCode {
    let msg = format!("{err:#}").replace('\n', " ");
    crate::diag!("error: {msg}");
    if output == Some(Output::Json) {
        let (code, details) = exit::cni_code_and_details(err);
        let mut obj = json!({ "code": code, "msg": msg });
        if !details.is_empty() {
            obj["details"] = details.into();
        }
        let _ = crate::outln!("{obj}");
    }
    exit::code(err)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subcommand_after_global_flags() {
        let cli = Cli::command();
        let words = |s: &str| s.split_whitespace().map(str::to_owned).collect::<Vec<_>>();
        for (line, want) in [
            ("run -- true", Some("run")),
            ("--netconf-dir run run", Some("run")),
            ("-o json run", Some("run")),
            ("--output=json run", Some("run")),
            (
                "--timeout 5s --trace t --cache-dir c --netns-dir n --plugin-dir p list",
                Some("list"),
            ),
            ("-q --verbose run", Some("run")),
            ("-o", None),
        ] {
            assert_eq!(first_subcommand(&cli, &words(line)), want, "{line}");
        }
    }
}
