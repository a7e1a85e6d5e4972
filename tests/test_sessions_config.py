import re

from lab.admin import sessions
from lab.model.config import REPO

COMPOSE = (REPO / "compose" / "lab.yml").read_text()
ENTRYPOINT = (REPO / "images" / "web" / "rootfs" / "usr" / "local" / "sbin"
              / "web-entrypoint").read_text()


def test_the_shared_directory_is_a_volume_on_every_web_server():
    mounts = re.findall(r"^\s+- php-sessions:(\S+)$", COMPOSE, re.MULTILINE)
    assert mounts == [sessions.SHARED_DIR] * 3  # web1, web2, web3; read-write
    assert re.search(r"^volumes:\n(?:\s+.*\n)*\s+php-sessions:", COMPOSE, re.MULTILINE)


def test_the_line_edited_is_the_one_web_entrypoint_writes():
    written = re.search(r'^php_value session\.save_path "\$SESSION_DIR"$', ENTRYPOINT,
                        re.MULTILINE)
    assert written, "web-entrypoint no longer writes the line lab.sessions edits"
    assert sessions.CONF in ENTRYPOINT
    assert f"PHP_SESSION_DIR:-{sessions.LOCAL_DIR}" in ENTRYPOINT
    assert sessions.save_path_line(sessions.SHARED_DIR) == (
        'php_value session.save_path "/srv/php-sessions"')
