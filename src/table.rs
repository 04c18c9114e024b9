//! Plain tables for terminal output: no borders, aligned columns, a header row.

use comfy_table::presets::NOTHING;
use comfy_table::{ContentArrangement, Table};

/// A borderless table with the given header.
pub fn new(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    t
}

/// Renders a table with each line's trailing spaces removed and a final newline.
pub fn render(t: &Table) -> String {
    let mut out = String::new();
    for line in t.to_string().lines() {
        out.push_str(line.strip_prefix(' ').unwrap_or(line).trim_end());
        out.push('\n');
    }
    out
}
