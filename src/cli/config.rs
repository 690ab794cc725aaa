//! Where the binary finds `chokepoint.toml` (parsed and checked by [`chokepoint::config`]).

use anyhow::{Context, Result};
pub use chokepoint::config::{Config, DEFAULT_NAME};
use std::path::{Path, PathBuf};

/// Reads `path`, or `./chokepoint.toml` when there is one, or the defaults; says on stderr which
/// file it read when it was not named.
pub fn load(path: Option<&Path>) -> Result<Config> {
    let path: PathBuf = match path {
        Some(p) => p.to_path_buf(),
        None if Path::new(DEFAULT_NAME).is_file() => {
            eprintln!("chokepoint: using settings from ./{DEFAULT_NAME}");
            PathBuf::from(DEFAULT_NAME)
        }
        None => return Ok(Config::default()),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    chokepoint::config::parse(&text)
        .map_err(anyhow::Error::msg)
        .with_context(|| format!("{}: invalid settings", path.display()))
}
