"""The balancer's generated configuration and its model, without Docker."""

import re
import stat
from pathlib import Path

import pytest

from lab import cli
from lab.admin import haproxy_cfg
from lab.drills.faults import Fault
from lab.engine.lab import Lab
from lab.model.config import LabConfig
from lab.model.errors import LabError
from lab.model.topology import Role, topology

TOPO = topology("10.1.1.0/24")


def directives(text: str) -> list[list[str]]:
    """The configuration's lines as words, comments and blank lines left out."""
    return [w for line in text.splitlines() if (w := re.sub(r"#.*", "", line).split())]


def section(text: str, header: str) -> list[list[str]]:
    """The directives of one section, e.g. "backend web"."""
    lines, inside = [], False
    for line in text.splitlines():
        if line and not line[0].isspace() and not line.startswith("#"):
            inside = line.split("#")[0].strip() == header
            continue
        words = re.sub(r"#.*", "", line).split()
        if inside and words:
            lines.append(words)
    return lines


@pytest.mark.parametrize("policy", haproxy_cfg.POLICIES)
def test_every_web_server_is_listed_and_checked_on_a_real_page(policy):
    backend = section(haproxy_cfg.haproxy_config(TOPO, policy), "backend web")
    servers = [w for w in backend if w[0] == "server"]
    assert [(w[1], w[2]) for w in servers] == [
        ("web1", "10.1.1.11:80"), ("web2", "10.1.1.12:80"), ("web3", "10.1.1.13:80")]
    assert ["option", "httpchk"] in backend
    send = next(w for w in backend if w[:2] == ["http-check", "send"])
    assert send[send.index("uri") + 1] == "/light.php"
    assert send[send.index("hdr") + 1:] == ["Host", "www.foo.com"]
    assert ["http-check", "expect", "status", "200"] in backend
    # A dead or broken server is out within seconds: checked every second,
    # out after two failures, back after two successes.
    assert ["default-server", "check", "inter", "1s", "fall", "2", "rise", "2"] in backend


def test_the_three_policies_differ_only_where_they_should():
    rr, lc, sticky = (section(haproxy_cfg.haproxy_config(TOPO, p), "backend web")
                      for p in ("roundrobin", "leastconn", "sticky"))
    assert ["balance", "roundrobin"] in rr and ["balance", "leastconn"] in lc
    assert ["balance", "roundrobin"] in sticky
    assert not any(w[0] == "cookie" for w in rr + lc)
    assert ["cookie", "SERVERID", "insert", "indirect", "nocache"] in sticky
    # each server's cookie value is its name: the visitor can see where it sticks
    assert [w[-2:] for w in sticky if w[0] == "server"] == [
        ["cookie", "web1"], ["cookie", "web2"], ["cookie", "web3"]]


@pytest.mark.parametrize("policy", haproxy_cfg.POLICIES)
def test_the_policy_can_be_read_back_from_the_directives(policy):
    text = haproxy_cfg.haproxy_config(TOPO, policy)
    assert haproxy_cfg.policy_of(text) == policy
    # the comments do not count: only what haproxy applies
    assert haproxy_cfg.policy_of("# cookie X insert\n# balance leastconn\n"
                                 "backend web\n    balance roundrobin\n") == "roundrobin"


def test_unknown_policy_is_refused():
    with pytest.raises(ValueError, match="one of roundrobin, leastconn, sticky"):
        haproxy_cfg.haproxy_config(TOPO, "random")
    with pytest.raises(ValueError):
        haproxy_cfg.policy_of("global\n")


def test_nothing_hides_which_server_answered():
    text = haproxy_cfg.haproxy_config(TOPO, "sticky")
    words = directives(text)
    assert not any("X-Served-By" in w or w[0].startswith("http-response") for w in words)
    assert not any(w[:2] == ["http-request", "del-header"] for w in words)


def test_the_stats_page_is_on_the_lab_address_only_and_needs_the_lab_password():
    text = haproxy_cfg.haproxy_config(topology("10.42.7.0/24"), "roundrobin")
    stats = section(text, "frontend stats")
    assert ["bind", "10.42.7.10:8404"] in stats
    assert ["stats", "uri", "/stats"] in stats
    assert ["stats", "auth", '"admin:${STATS_PASSWORD}"'] in stats  # from lb's environment
    assert not any(w[0] == "stats" and w[1] == "admin" for w in stats)  # read-only
    # visitors' port on every address of lb; the web servers follow the subnet
    assert ["bind", ":80"] in section(text, "frontend www")
    assert "10.42.7.12:80" in text and "10.1.1." not in text


def test_write_config_keeps_the_policy_and_is_readable_by_lb(tmp_path: Path):
    folder = tmp_path / "lb"
    path = haproxy_cfg.write_config(folder, TOPO)
    assert haproxy_cfg.read_policy(folder) == "roundrobin"
    haproxy_cfg.write_config(folder, TOPO, "leastconn")
    haproxy_cfg.write_config(folder, TOPO)  # an `up` again: the policy stays
    assert haproxy_cfg.read_policy(folder) == "leastconn"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in folder.iterdir()) == ["haproxy.cfg"]  # no temp file left
    assert haproxy_cfg.read_policy(tmp_path / "none") is None


def test_www_mode_names_what_the_zone_points_at():
    assert haproxy_cfg.www_mode(["10.1.1.12", "10.1.1.13", "10.1.1.11"], TOPO) == "web"
    assert haproxy_cfg.www_mode(["10.1.1.10"], TOPO) == "lb"
    assert haproxy_cfg.www_mode(["10.1.1.11", "10.1.1.12"], TOPO) == "10.1.1.11,10.1.1.12"


CSV = """# pxname,svname,qcur,status,weight,check_status,
www,FRONTEND,,OPEN,,,
web,web1,0,UP,1,L7OK,
web,web2,0,DOWN,1,L4TOUT,
web,web3,0,UP 1/2,1,L7OK,
web,BACKEND,0,UP,2,,
stats,FRONTEND,,OPEN,,,
"""


def test_stats_csv_gives_each_servers_state():
    rows = haproxy_cfg.parse_stats_csv(CSV)
    assert rows[1]["svname"] == "web1" and rows[1]["check_status"] == "L7OK"
    assert haproxy_cfg.server_states(rows) == {"web1": "UP", "web2": "DOWN", "web3": "UP 1/2"}
    with pytest.raises(ValueError):
        haproxy_cfg.parse_stats_csv("<html>401</html>")


def test_the_balancer_is_an_optional_eighth_host():
    assert len(topology().hosts) == 7 and "lb" not in topology().names
    t = topology("10.1.4.0/24", "foolab4", balancer=True)
    lb = t.host("lb")
    assert t.names[-1] == "lb" and len(t.hosts) == 8
    assert (lb.role, lb.address, lb.container) == (Role.LB, "10.1.4.10", "foolab4-lb")
    assert topology("10.1.4.0/24").lb_address == "10.1.4.10"


def test_the_lab_asks_for_it_by_flag_or_environment(tmp_path: Path):
    assert LabConfig.from_env({}).balancer is False
    assert LabConfig.from_env({"FOOLAB_BALANCER": "1"}).balancer is True
    assert LabConfig.from_env({"FOOLAB_BALANCER": "0"}).balancer is False
    args = cli.parser().parse_args(["up", "--with", "balancer"])
    assert args.with_ == ["balancer"]
    assert cli.parser().parse_args(["up"]).with_ == []


def test_a_lab_brought_up_with_the_balancer_keeps_it_until_down(tmp_path: Path):
    plain = Lab(LabConfig(state_dir=tmp_path))
    assert not plain.config.balancer and "lb" not in plain.topology.names
    env = plain.env()
    assert env["LB_ADDR"] == "10.1.1.10" and env["LB_CONF_DIR"] == str(tmp_path / "lb")
    assert len(env["LB_STATS_PASSWORD"]) == 32
    haproxy_cfg.write_config(tmp_path / "lb", plain.topology)  # what `up --with balancer` leaves
    again = Lab(LabConfig(state_dir=tmp_path))
    assert again.config.balancer and again.topology.host("lb").address == "10.1.1.10"
    again.use_balancer(False)
    assert "lb" not in again.topology.names


def test_a_slow_host_needs_a_share_of_a_cpu():
    assert Fault("slow", "web1", amount=10).describe() == "web1 slowed to 10% of one CPU"
    with pytest.raises(LabError, match="percent of one CPU"):
        Fault("slow", "web1")


def test_load_study_rows_through_the_balancer_are_named_for_it():
    from lab.load.settings import RunSettings

    rr = RunSettings(10, 30, balancer="roundrobin", down=("web3",))
    assert (rr.label, rr.slug) == ("lb roundrobin, web3 down", "lb-roundrobin-web3-down")
    assert RunSettings(10, 30).label == "none"  # the DNS rows as before
    with pytest.raises(ValueError, match="balancer policy"):
        RunSettings(10, 30, balancer="random")


def test_a_run_through_the_balancer_counts_per_answering_server():
    from lab.load.settings import RunSettings
    from lab.load.study_report import compare_dict, compare_table, render_markdown
    from lab.load.summary import RunData, summarize

    settings = RunSettings(10, 30, balancer="leastconn", down=("web3",))
    visits = {  # as loadtests/locustfile.py writes it with --target: X-Served-By decides
        "rows": [[0, "web1", "/light.php", "ok", 50], [0, "web2", "/light.php", "ok", 48],
                 [0, "lb", "/light.php", "fail", 2]],
        "latency_ms": [], "dns_first_address": {}, "served_by_mismatch": 0,
        "locust_stats": [["GET", "/light.php", 100, 2]],
    }
    summary = summarize(RunData(settings, ("web1", "web2", "web3"), visits, None,
                                31.0, "2026-01-01T00:00:00+00:00"))
    by = {s.name: s for s in summary.servers}
    assert (by["web1"].requests, by["web3"].requests, by["web3"].down) == (50, 0, True)
    assert by["lb"].failures == 2 and summary.counts_add_up
    report = render_markdown(summary)
    assert report.startswith("# Load distribution: through lb, policy `leastconn`, web3 down")
    assert "lb leastconn, web3 down" in compare_table([summary])
    assert compare_dict([summary])["runs"][0]["balancer"] == "leastconn"


def test_the_running_policy_is_read_from_haproxys_statistics():
    """Rows as HAProxy 2.6 gives them with `stats show-legends` (seen on lb)."""
    def rows(algo: str, cookies: bool) -> list[dict[str, str]]:
        servers = [{"pxname": "web", "svname": w, "algo": "", "cookie": w if cookies else ""}
                   for w in ("web1", "web2", "web3")]
        return [{"pxname": "www", "svname": "FRONTEND", "algo": "", "cookie": ""}, *servers,
                {"pxname": "web", "svname": "BACKEND", "algo": algo,
                 "cookie": "SERVERID" if cookies else ""}]

    assert haproxy_cfg.policy_of_stats(rows("leastconn", False)) == "leastconn"
    assert haproxy_cfg.policy_of_stats(rows("roundrobin", True)) == "sticky"
    assert haproxy_cfg.policy_of_stats(rows("roundrobin", False)) == "roundrobin"
    with pytest.raises(ValueError, match="unnamed"):  # without show-legends: no algo
        haproxy_cfg.policy_of_stats(rows("", False))
