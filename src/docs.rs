//! Shell completions and man pages, generated from the clap definitions.
//! `cargo run --example generate-docs` writes them; a test fails when the committed ones are stale.

use std::path::Path;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::Cli;

/// Every generated file as (path relative to the repository, contents).
pub fn generated_files() -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    for (shell, name) in [(Shell::Bash, "imbed.bash"), (Shell::Zsh, "_imbed"), (Shell::Fish, "imbed.fish")] {
        let mut buffer = Vec::new();
        clap_complete::generate(shell, &mut Cli::command(), "imbed", &mut buffer);
        files.push((format!("completions/{name}"), buffer));
    }
    let command = Cli::command();
    let mut buffer = Vec::new();
    clap_mangen::Man::new(command.clone()).render(&mut buffer)?;
    files.push(("man/imbed.1".to_string(), buffer));
    for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        let name = format!("imbed-{}", sub.get_name());
        let mut buffer = Vec::new();
        clap_mangen::Man::new(sub.clone().name(name.clone())).render(&mut buffer)?;
        files.push((format!("man/{name}.1"), buffer));
    }
    Ok(files)
}

pub fn write_all(root: &Path) -> anyhow::Result<()> {
    for (relative, contents) in generated_files()? {
        let path = root.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, contents).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
