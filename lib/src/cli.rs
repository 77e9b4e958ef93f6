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
  25   rl-sync: the --max-delete limit stopped the deletions (as rsync)
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

/// Escapes text for a roff paragraph: backslashes and hyphens, and a leading dot or quote.
fn roff_escape(text: &str) -> String {
    let t = text.replace('\\', "\\e").replace('-', "\\-");
    if t.starts_with(['.', '\'']) {
        format!("\\&{t}")
    } else {
        t
    }
}

/// Renders the man page of a command, subcommands included, to `out`.
pub fn render_man(cmd: clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let mut cmd = cmd;
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    // Man::render would list the subcommands as pages `rl-x-sub(1)`, which do not exist: each
    // subcommand is a section of this page instead, and the list says so.
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    let subs: Vec<&clap::Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    if !subs.is_empty() {
        writeln!(out, ".SH SUBCOMMANDS")?;
        for sub in &subs {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            writeln!(
                out,
                ".TP
\\fB{}\\fR",
                sub.get_name()
            )?;
            writeln!(
                out,
                "{} (section {} {} below)",
                roff_escape(&about),
                cmd.get_name().to_uppercase().replace('-', "\\-"),
                sub.get_name().to_uppercase().replace('-', "\\-")
            )?;
        }
    }
    man.render_extra_section(out)?;
    man.render_version_section(out)?;
    for sub in subs {
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
            .version("1.0")
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
