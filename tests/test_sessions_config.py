import re

from lab.admin import sessions
from lab.hosts import apache
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
    assert apache.HOST_CONF in ENTRYPOINT
    assert f"PHP_SESSION_DIR:-{sessions.LOCAL_DIR}" in ENTRYPOINT
    assert apache.session_line(sessions.SHARED_DIR) == (
        'php_value session.save_path "/srv/php-sessions"')


def test_apache_settings_are_edited_with_every_value_quoted():
    """One door for the edit: a value with sed's and the shell's special
    characters stays a value (the command is one bash -c line)."""
    argv = apache.set_env_command(DB_WRITE_HOST="10.1.1.22", DB_READ_HOST="a|b&c'd")
    assert argv[:2] == ("bash", "-c")
    line = argv[2]
    assert apache.HOST_CONF in line and line.endswith("apachectl -k graceful")
    assert "s|^SetEnv DB_WRITE_HOST .*|SetEnv DB_WRITE_HOST \"10.1.1.22\"|" in line
    assert "a\\|b\\&c" in line  # sed's delimiter and & escaped, then shell-quoted


def test_the_apache_edit_runs_in_a_real_shell_and_sed(tmp_path):
    """The line run by bash and GNU sed on a copy of the file: the value
    lands literally, other lines untouched."""
    import shutil
    import subprocess

    if shutil.which("sed") is None:
        return
    conf = tmp_path / "foolab-host.conf"
    conf.write_text('SetEnv DB_READ_HOST "10.1.1.22"\nSetEnv DB_WRITE_HOST "10.1.1.21"\n')
    line = apache.set_env_command(DB_READ_HOST="x|y&z\\w'q")[2]
    line = line.replace(apache.HOST_CONF, str(conf)).replace(" && apachectl -k graceful", "")
    subprocess.run(["bash", "-c", line], check=True)
    assert conf.read_text() == ('SetEnv DB_READ_HOST "x|y&z\\w\'q"\n'
                                'SetEnv DB_WRITE_HOST "10.1.1.21"\n')


def test_the_db_images_leave_the_mark_the_runbooks_wait_for():
    from lab.hosts import mariadb

    db = REPO / "images" / "db"
    assert f"touch {mariadb.SETUP_DONE}" in (db / "db-setup").read_text()
    assert f"rm -f {mariadb.SETUP_DONE}" in (db / "db-entrypoint").read_text()
    assert f"[ -e {mariadb.SETUP_DONE} ]" in (db / "db-healthcheck").read_text()
