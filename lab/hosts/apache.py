"""Apache with mod_php on a web server: its per-host settings and a
graceful reload. web-entrypoint writes the settings into one file, outside
the content web1 pushes; an administrator edits a line there and reloads,
and so does the lab (runbooks, failover, sessions, exercises)."""

from __future__ import annotations

from lab.engine.lab import Lab
from lab.engine.process import fill

HOST_CONF = "/etc/apache2/conf-enabled/foolab-host.conf"
# Running requests finish on the old settings, new ones start on the new.
GRACEFUL = "apachectl -k graceful"
# The prefork settings; keep-alive is off there since issue 23.
PREFORK_CONF = "/etc/apache2/mods-enabled/mpm_prefork.conf"
# The session directory as web-entrypoint prepares it: www-data's, mode 700.
SESSION_DIR = "mkdir -p {} && chown www-data:www-data {} && chmod 700 {}"


def _sed_value(value: str) -> str:
    """A value as sed's replacement text (delimiter |) keeps it literally."""
    if "\n" in value:
        raise ValueError(f"a setting cannot span lines: {value!r}")
    return value.replace("\\", "\\\\").replace("|", "\\|").replace("&", "\\&")


def _replace_lines(edits: dict[str, str]) -> str:
    """One shell line: each line starting with a key replaced whole, in
    HOST_CONF, then the graceful reload."""
    exprs = [f"s|^{key} .*|{_sed_value(line)}|" for key, line in edits.items()]
    template = "sed -i" + " -e {}" * len(exprs) + " {} && " + GRACEFUL
    return fill(template, *exprs, HOST_CONF)


def env_lines(**settings: str) -> dict[str, str]:
    return {f"SetEnv {k}": f'SetEnv {k} "{v}"' for k, v in settings.items()}


def set_env_command(**settings: str) -> tuple[str, ...]:
    """The command a runbook step shows and runs: SetEnv lines replaced
    (e.g. DB_WRITE_HOST, DB_READ_HOST), Apache reloaded gracefully."""
    return ("bash", "-c", _replace_lines(env_lines(**settings)))


def set_env(lab: Lab, web: str, **settings: str) -> None:
    """Change SetEnv settings on `web` now (db.php reads them per request)."""
    lab.sh(web, _replace_lines(env_lines(**settings)))


def session_line(directory: str) -> str:
    """The line of HOST_CONF that says where PHP keeps sessions."""
    return f'php_value session.save_path "{directory}"'


def use_sessions(lab: Lab, web: str, directory: str) -> None:
    """PHP on `web` keeps sessions in `directory` (made as web-entrypoint
    makes the local one), after a graceful reload."""
    lab.run(web, SESSION_DIR, directory, directory, directory)
    lab.sh(web, _replace_lines({"php_value session.save_path": session_line(directory)}))
    lab.run(web, "grep -qxF {} {}", session_line(directory), HOST_CONF)


def keep_alive(lab: Lab, web: str, on: bool) -> None:
    """Keep-alive on or off on `web`, after a graceful reload. The image has
    it off (issue 23); the load study turns it on for one run, to show what
    it did, and off again."""
    lab.run(web, "sed -i -e {} {} && " + GRACEFUL,
            f"s/^KeepAlive .*/KeepAlive {'On' if on else 'Off'}/", PREFORK_CONF)
    lab.run(web, "grep -qx {} {}", f"KeepAlive {'On' if on else 'Off'}", PREFORK_CONF)


def graceful(lab: Lab, web: str) -> None:
    lab.sh(web, GRACEFUL)
