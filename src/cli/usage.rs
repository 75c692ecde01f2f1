//! `clauster usage TRANSCRIPT`: one transcript's tokens by model and an approximate cost,
//! on stderr (a human report, like `doctor`). Needs no config.

use std::path::Path;
use std::process::ExitCode;

use crate::usage;

pub fn run(transcript: &Path) -> ExitCode {
    let file = match std::fs::File::open(transcript).and_then(|f| f.metadata().map(|m| (f, m))) {
        Ok((f, m)) if m.is_file() => f,
        _ => return super::fail(2, format!("transcript not found: {}", transcript.display())),
    };
    let u = usage::parse(std::io::BufReader::new(file));
    for (model, t) in u.sorted() {
        let cost = match t.cost(model) {
            Some(c) => format!("≈${:.4}", usage::round4(c)),
            None => "(unpriced)".to_owned(),
        };
        eprintln!(
            "  {model:<22} in={} out={} cache_w={} cache_r={}  {cost}",
            t.input, t.output, t.cache_creation, t.cache_read
        );
    }
    eprintln!(
        "clauster: {} assistant msg(s), {} tokens, ≈${:.4} total (approx)",
        u.messages(),
        u.total_tokens(),
        usage::round4(u.cost())
    );
    ExitCode::SUCCESS
}
