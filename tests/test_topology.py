import pytest

from lab.model.errors import TopologyError
from lab.model.topology import DEFAULT_SUBNET, Role, topology


def test_default_addresses_are_the_articles():
    t = topology()
    assert t.subnet == DEFAULT_SUBNET
    assert {h.name: h.address for h in t.hosts} == {
        "ns1": "10.1.1.2", "ns2": "10.1.1.3",
        "web1": "10.1.1.11", "web2": "10.1.1.12", "web3": "10.1.1.13",
        "db1": "10.1.1.21", "db2": "10.1.1.22",
    }
    assert t.gateway == "10.1.1.1"


def test_roles_group_the_seven_hosts():
    t = topology()
    assert [h.name for h in t.by_role(Role.DNS)] == ["ns1", "ns2"]
    assert [h.name for h in t.by_role(Role.WEB)] == ["web1", "web2", "web3"]
    assert [h.name for h in t.by_role(Role.DB)] == ["db1", "db2"]


def test_another_subnet_keeps_the_last_octets():
    t = topology("192.168.77.0/24")
    assert t.address("db2") == "192.168.77.22"
    assert t.gateway == "192.168.77.1"
    assert t.host("web3").container == "foolab-web3"


@pytest.mark.parametrize("bad", ["10.1.1.0/16", "10.1.0.0/16", "nonsense", "10.1.1.300/24"])
def test_bad_subnets_are_refused_with_a_reason(bad):
    with pytest.raises(TopologyError, match="subnet"):
        topology(bad)


def test_unknown_host_names_the_known_ones():
    with pytest.raises(TopologyError, match="ns1, ns2, web1"):
        topology().host("web4")


def test_read_servers_follow_the_article():
    t = topology()
    assert [t.read_server(w) for w in ("web1", "web2", "web3")] == ["db1", "db2", "db2"]


def test_roles_are_the_articles():
    t = topology()
    assert (t.master, t.replica, t.databases) == ("db1", "db2", ("db1", "db2"))
    assert (t.primary_dns, t.secondary_dns) == ("ns1", "ns2")
    assert (t.content_source, t.content_targets, t.writer_host) == ("web1", ("web2", "web3"),
                                                                    "web1")
    assert t.readers_of(t.master) == ("web1",)
    assert t.readers_of(t.replica) == ("web2", "web3")
    assert [t.read_server(w) for w in t.webs] == ["db1", "db2", "db2"]
