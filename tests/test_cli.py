import pytest

from lab import cli
from lab.admin.status import HostStatus


def test_status_table_lists_hosts_and_facts():
    rows = [
        HostStatus("ns1", "dns", "10.1.1.2", "primary DNS", "running", "healthy",
                   {"serial": 2006032801}),
        HostStatus("db2", "db", "10.1.1.22", "replica", "exited", "none", {}),
    ]
    text = cli.render_table(rows)
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
