import datetime
from pathlib import Path

import pytest

from lab.admin import zone
from lab.model.config import REPO
from lab.model.errors import LabError

ARTICLE_ZONE = (REPO / "images" / "dns" / "db.foo.com").read_text()
DAY = datetime.date(2026, 11, 26)


def test_the_articles_zone_file_is_understood():
    assert zone.serial_of(ARTICLE_ZONE) == 2006032801
    assert zone.www_of(ARTICLE_ZONE) == ["10.1.1.11", "10.1.1.12", "10.1.1.13"]


def test_next_serial_is_todays_first_or_one_more():
    assert zone.next_serial(2006032801, DAY) == 2026112600
    assert zone.next_serial(2026112600, DAY) == 2026112601
    assert zone.next_serial(2026112699, DAY) == 2026112700  # 100 changes in a day
    assert zone.next_serial(2030010100, DAY) == 2030010101  # a serial from the future
    assert zone.next_serial(7, DAY) == 2026112600


def test_next_serial_refuses_to_overflow_32_bits():
    with pytest.raises(LabError):
        zone.next_serial(0xFFFFFFFF, DAY)


def test_with_serial_changes_the_serial_and_nothing_else():
    text = zone.with_serial(ARTICLE_ZONE, 2026112600)
    assert zone.serial_of(text) == 2026112600
    assert text.replace("2026112600", "2006032801") == ARTICLE_ZONE
    assert zone.with_serial(text, 2006032801) == ARTICLE_ZONE


def test_with_serial_on_one_line_soa_and_comments_before_the_serial():
    one_line = "@ IN SOA ns1.foo.com. hostmaster.foo.com. 5 10800 3600 86400 86400\n"
    assert zone.serial_of(zone.with_serial(one_line, 6)) == 6
    commented = "foo.com. IN SOA ns1 hm (\n ; the serial follows\n  41 ; serial\n 1 2 3 4 )\n"
    assert zone.serial_of(commented) == 41
    assert "42 ; serial" in zone.with_serial(commented, 42)


def test_a_zone_without_soa_is_refused():
    with pytest.raises(LabError, match="no SOA serial"):
        zone.serial_of("; the SOA 1 2 3 comes later\nwww IN A 10.1.1.11\n")


def test_with_www_rewrites_the_round_robin_set_in_place():
    text = zone.with_www(ARTICLE_ZONE, ["10.1.1.11", "10.1.1.12"])
    assert zone.www_of(text) == ["10.1.1.11", "10.1.1.12"]
    # Everything else stays, in order: the SOA, NS, ns1/ns2 and the comments.
    others = [line for line in ARTICLE_ZONE.splitlines() if not line.startswith("www ")]
    assert [line for line in text.splitlines() if not line.startswith("www ")] == others
    lines = text.splitlines()
    assert lines[-2:] == ["www IN A 10.1.1.11", "www IN A 10.1.1.12"]
    # and back again
    assert zone.with_www(text, ["10.1.1.11", "10.1.1.12", "10.1.1.13"]) == ARTICLE_ZONE


def test_with_www_knows_other_spellings_of_the_record():
    text = ("ns1 IN A 10.1.1.2\nwww.foo.com. 300 IN A 10.9.9.9 ; old\nwww A 10.9.9.8\n"
            "wwwx IN A 1.2.3.4\n")
    assert zone.www_of(text) == ["10.9.9.9", "10.9.9.8"]
    assert zone.with_www(text, ["10.1.1.30"]) == (
        "ns1 IN A 10.1.1.2\nwww IN A 10.1.1.30\nwwwx IN A 1.2.3.4\n")


def test_with_www_refuses_nonsense():
    with pytest.raises(LabError):
        zone.with_www(ARTICLE_ZONE, [])
    with pytest.raises(ValueError):
        zone.with_www(ARTICLE_ZONE, ["10.1.1.300"])
    with pytest.raises(LabError, match="no www"):
        zone.with_www("ns1 IN A 10.1.1.2\n", ["10.1.1.11"])


def test_the_zone_file_path_is_the_one_the_primary_loads():
    conf = Path(REPO / "images" / "dns" / "named.conf.primary").read_text()
    assert f'file "{zone.ZONE_FILE}"' in conf
