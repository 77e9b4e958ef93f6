//! What every tool's command line shares: the man page generator and the help texts about the
//! record protocol and exit statuses.

use std::io::Write;

/// The `EXIT STATUS` text shared by every tool (help and man page).
pub const EXIT_STATUS: &str = "\
Exit status:
  0    done
  1    a check found a difference (verify mismatch, closure broken, state not as expected)
  2    an error (I/O, bad input, usage)
  3    refused as unsafe (the message says why and which flag overrides it)
  130  interrupted";

/// The hidden first argument that prints the man page (`rl-X --generate-man > man/rl-X.1`).
pub const GENERATE_MAN: &str = "--generate-man";

/// If the first argument is `--generate-man`, writes the man page of `cmd` to stdout and exits.
/// Called at the top of every `main`, before argument parsing, so required arguments and
/// subcommands do not get in the way.
pub fn maybe_generate_man(cmd: impl FnOnce() -> clap::Command) {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == GENERATE_MAN)
    {
        let mut out = std::io::stdout().lock();
        let code = match render_man(cmd(), &mut out).and_then(|()| out.flush()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("cannot write the man page: {e}");
                2
            }
        };
        std::process::exit(code);
    }
}

/// Renders the man page of a command, subcommands included, to `out`.
pub fn render_man(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = cmd;
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    man.render(out)?;
    for sub in cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
    {
        let sub_man = clap_mangen::Man::new(sub.clone());
        writeln!(
            out,
            ".SH \"{} {}\"",
            cmd.get_name().to_uppercase(),
            sub.get_name().to_uppercase()
        )?;
        sub_man.render_synopsis_section(out)?;
        sub_man.render_description_section(out)?;
        sub_man.render_options_section(out)?;
        sub_man.render_extra_section(out)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_a_page_with_subcommands() {
        let cmd = clap::Command::new("rl-demo")
            .about("Demo tool")
            .subcommand(
                clap::Command::new("run")
                    .about("Runs it")
                    .arg(clap::arg!(--fast "go fast")),
            )
            .after_long_help(EXIT_STATUS);
        let mut buf = Vec::new();
        render_man(cmd, &mut buf).unwrap();
        let page = String::from_utf8(buf).unwrap();
        assert!(page.contains(".TH rl-demo"));
        assert!(page.contains("Runs it"));
        assert!(page.contains("fast"));
        assert!(page.contains("130"));
    }
}
