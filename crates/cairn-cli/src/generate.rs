//! `cairn completions <shell>` and `cairn man`: text generated from the
//! command line's own definition ([`crate::args::Cli`]), so it cannot fall
//! behind a new flag or subcommand.
//!
//! Both print to stdout and need no database, no configuration file and no
//! `.env`: a broken `cairn.toml` does not stop a shell from loading its
//! completions. The manual page is generated on demand rather than at build
//! time: a build script would run clap on every build of the crate, and
//! packagers can write the page with `cairn man > cairn.1` (docs/cli.md).

use std::io::Write;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::{Cli, Command};
use crate::commands::Outcome;

/// Runs `command` if it is one of the generators; `None` for any other.
pub fn run(command: &Command) -> Option<anyhow::Result<Outcome>> {
    let mut out = Vec::new();
    match command {
        Command::Completions(args) => completions(args.shell, &mut out),
        Command::Man => {
            if let Err(e) = man(&mut out) {
                return Some(Err(e));
            }
        }
        _ => return None,
    }
    crate::commands::print(&String::from_utf8_lossy(&out));
    Some(Ok(Outcome::Success))
}

/// Writes the completion script of `shell` for the `cairn` binary.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "cairn", out);
}

/// Writes the manual page, `cairn(1)`, in roff.
pub fn man(out: &mut dyn Write) -> anyhow::Result<()> {
    let command = Cli::command();
    clap_mangen::Man::new(command)
        .render(out)
        .context("cannot write the manual page")
}

#[cfg(test)]
mod tests {
    use clap_complete::Shell;

    use super::*;

    fn script(shell: Shell) -> String {
        let mut out = Vec::new();
        completions(shell, &mut out);
        String::from_utf8(out).expect("UTF-8")
    }

    /// Every subcommand clap knows, so a new one is checked too.
    fn subcommands() -> Vec<String> {
        Cli::command()
            .get_subcommands()
            .map(|c| c.get_name().to_owned())
            .collect()
    }

    #[test]
    fn completions_name_every_subcommand_in_every_shell() {
        let names = subcommands();
        assert!(names.len() > 15, "{names:?}");
        for shell in [
            Shell::Bash,
            Shell::Zsh,
            Shell::Fish,
            Shell::PowerShell,
            Shell::Elvish,
        ] {
            let text = script(shell);
            for name in &names {
                assert!(
                    text.contains(name.as_str()),
                    "{shell} completions lack `{name}`"
                );
            }
            assert!(text.contains("--database-url"), "{shell}: global flags");
        }
    }

    #[test]
    fn completions_are_shaped_for_their_shell() {
        assert!(script(Shell::Bash).contains("complete -F _cairn"));
        assert!(script(Shell::Zsh).starts_with("#compdef cairn"));
        assert!(script(Shell::Fish).contains("complete -c cairn"));
    }

    #[test]
    fn the_manual_page_is_roff_naming_the_subcommands() {
        let mut out = Vec::new();
        man(&mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.starts_with(".ie \\n(.g .ds Aq"), "{}", &page[..80]);
        assert!(page.contains(".TH cairn 1"), "{page}");
        for name in subcommands() {
            assert!(page.contains(&name), "the page lacks `{name}`");
        }
        assert!(page.contains("Exit codes"), "the long help is in the page");
    }
}
