import pytest

from lab import cli
from lab.admin.status import HostStatus
from lab.cli import lifecycle_commands, runbook_commands
from lab.drills import runbooks


def test_status_table_lists_hosts_and_facts():
    rows = [
        HostStatus("ns1", "dns", "10.1.1.2", "primary DNS", "running", "healthy",
                   {"serial": 2006032801}),
        HostStatus("db2", "db", "10.1.1.22", "replica", "exited", "none", {}),
    ]
    text = lifecycle_commands.render_table(rows)
    lines = text.splitlines()
    assert lines[0].split() == ["HOST", "ROLE", "ADDRESS", "STATE", "FACTS"]
    assert "running/healthy" in lines[1] and "serial=2006032801" in lines[1]
    assert lines[2].split()[:4] == ["db2", "db", "10.1.1.22", "exited"]


def test_unknown_host_is_a_one_line_error(capsys):
    assert cli.main(["shell", "web9"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("foolab: error: unknown host 'web9'") and "\n" not in err


def test_bad_subnet_is_a_one_line_error(capsys):
    assert cli.main(["--subnet", "10.0.0.0/8", "status"]) == 2
    assert "needs a /24" in capsys.readouterr().err


def test_unknown_subcommand_is_refused():
    with pytest.raises(SystemExit):
        cli.main(["explode"])


def test_python_dash_m_runs_the_cli():
    """The bench starts `python -m lab.cli dashboard`: the package must run."""
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "lab.cli", "--help"], capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0 and "dashboard" in out.stdout


def test_every_subcommand_of_every_family_is_listed_once():
    """cli.ORDER is foolab --help's order: a family's command missing from it
    would be a subcommand nobody can call."""
    names = [name for family in cli.FAMILIES for name in family.COMMANDS]
    assert sorted(names) == sorted(cli.ORDER) and len(set(names)) == len(names)
    assert list(cli.COMMANDS) == list(cli.ORDER)


@pytest.mark.parametrize(("argv", "options"), [
    (["semi-sync", "--off", "--lossless"], {"on": False, "lossless": True}),
    (["semi-sync"], {"on": True, "lossless": False}),
    (["promote-replica", "--point-web"], {"take_address": False}),
    (["rebuild-replica", "--online"], {"online": True}),
    (["switch-back", "--online"], {}),  # an option of another runbook is not passed on
])
def test_runbook_options_reach_the_procedure(monkeypatch, argv, options):
    made: list[dict[str, object]] = []
    monkeypatch.setitem(runbooks.RUNBOOKS, argv[0], lambda lab, **kw: made.append(kw))
    args = cli.parser().parse_args(["runbook", *argv])
    runbook_commands.BOOKS[args.name](None, args)
    assert made == [options]


def test_every_runbook_has_a_factory():
    assert sorted(runbook_commands.BOOKS) == sorted(runbooks.RUNBOOKS)
