//! The manual page and the shell completions, generated from the clap definitions so they can
//! never disagree with what the parser accepts.

use std::io::Write;

use clap::CommandFactory;

use super::Cli;

/// Writes the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell, out: &mut dyn Write) {
    clap_complete::generate(shell, &mut Cli::command(), "reach", out);
}

/// Writes the manual page, in roff: reach(1), with a section per subcommand.
pub fn man(out: &mut dyn Write) -> std::io::Result<()> {
    let command = Cli::command();
    let page = clap_mangen::Man::new(command.clone())
        .section("1")
        .manual("User Commands");
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    page.render_subcommands_section(out)?;
    page.render_extra_section(out)?;
    page.render_version_section(out)?;
    Ok(())
}
