"""Break it and recover it: the content push from web1 (F5-F8).

Content is edited on web1 only; cron pushes /var/www to web2 and web3
every minute with `rsync --delete`. So a file made, changed or deleted on
web1 is the same on the others within one cron period, and an edit made
directly on web2 does not last: the next push puts web1's version back.
One period holds all of it: a file made and one changed on web1, one
deleted there that every web server had (as an earlier push left it), and
web2's own edit and its own file.
"""

from __future__ import annotations

import time
import uuid

import pytest

from lab.drills import verdicts
from lab.engine.waiting import wait_for
from lab.probes import pages

HTML = "/var/www/html"
PERIOD = 80  # seconds: one cron minute, plus the push itself on a busy machine
RECEIVERS = ("web2", "web3")


def md5(lab, web: str, path: str) -> str | None:
    """The file's md5 on `web`, None if it is not there."""
    out = lab.exec(web, ["md5sum", path])
    return out.stdout.split()[0] if out.returncode == 0 else None


def as_syncer(lab, web: str, script: str, input: str | None = None) -> str:
    """Edit content as its owner would (the syncer account, F7)."""
    out = lab.exec(web, ["bash", "-c", script], user="syncer", input=input)
    assert out.returncode == 0, f"on {web}: {script}: {out.stderr}"
    return out.stdout


@pytest.fixture
def probe(lab):
    """Names for this run's files, and the existing probe file's original
    text; whatever the test leaves is put back on all three web servers
    alike (the next push then has nothing to change)."""
    tag = uuid.uuid4().hex[:8]
    names = {"new": f"{HTML}/sync-probe-{tag}.txt", "stray": f"{HTML}/made-on-web2-{tag}.txt",
             "gone": f"{HTML}/pushed-before-{tag}.txt", "existing": f"{HTML}/static.txt",
             "tag": tag}
    original = lab.sh("web1", f"cat {names['existing']}")
    yield names, original
    for web in ("web1", *RECEIVERS):
        lab.exec(web, ["rm", "-f", names["new"], names["stray"], names["gone"]])
        if lab.sh(web, f"cat {names['existing']}") != original:
            as_syncer(lab, web, f"cat > {names['existing']}", input=original)


@pytest.mark.destructive
@pytest.mark.slow
def test_web1_content_reaches_the_others_and_wins(lab, probe, record_property,
                                                 prove_nothing_lost):
    names, _original = probe
    new, stray, gone, existing, tag = (names[k] for k in ("new", "stray", "gone", "existing",
                                                          "tag"))
    # As an earlier push left it: a file every web server has.
    for web in ("web1", *RECEIVERS):
        as_syncer(lab, web, f"echo 'pushed before {tag}' > {gone}")
    # Asked before web1 deletes it: cron may push at any moment after that
    # (CI run 44 saw it gone already, pushed within a second of the rm).
    assert all(md5(lab, w, gone) for w in RECEIVERS)

    # On web1: a new file, a change to an existing one, and the old file deleted.
    as_syncer(lab, "web1", f"echo 'made on web1 {tag}' > {new} "
                           f"&& echo 'changed on web1 {tag}' >> {existing} && rm {gone}")
    # On web2, behind web1's back: its own edit of that file, and a file of its own.
    seen = as_syncer(lab, "web2", f"echo 'changed on web2 only, and it will not last {tag}' "
                                  f">> {existing} && echo 'web2 only {tag}' > {stray} "
                                  f"&& md5sum {existing} && test -f {stray}")
    t0 = time.monotonic()
    want = {"new": md5(lab, "web1", new), "existing": md5(lab, "web1", existing)}
    assert want["new"] and want["existing"]
    assert seen.split()[0] != want["existing"]  # the stray edit happened: web2 differs

    def pushed() -> bool:
        return all(md5(lab, w, new) == want["new"] and md5(lab, w, existing) == want["existing"]
                   and md5(lab, w, gone) is None for w in RECEIVERS) and md5(
                       lab, "web2", stray) is None

    wait_for("web1's new and changed files on web2 and web3, its deleted one gone from "
             "them (--delete), web2's own edits gone", pushed, timeout=PERIOD, every=1)
    record_property("push_s", round(time.monotonic() - t0, 1))

    # The proof: the three web roots are identical, file for file, byte for byte.
    roots = {w: pages.web_root_digests(lab, w) for w in ("web1", *RECEIVERS)}
    verdict = verdicts.content("web1", roots)
    assert verdict.equal, verdict.differences
    prove_nothing_lost()
