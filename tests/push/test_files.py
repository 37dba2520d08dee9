"""`flask broker files`: Mosquitto's password_file (hashed as mosquitto_passwd hashes) and acl_file
for the server and every active enrolled agent, written atomically, mode 0640."""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path

import pytest

from app import push
from app.agents import service

MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"
PASSWD_MISSING = (
    f"mosquitto_passwd NOT INSTALLED ({MOSQUITTO_PASSWD}): the hash is not compared with "
    "Mosquitto's own; apt-get install mosquitto"
)


@pytest.fixture
def files(app, tmp_path):
    """Where the command writes, with the server's broker password set."""
    app.config["MQTT_PASSWORD"] = "server-secret"
    return tmp_path / "broker" / "passwd", tmp_path / "broker" / "acl"


def test_the_hash_is_the_one_mosquitto_passwd_writes(tmp_path):
    if not Path(MOSQUITTO_PASSWD).exists():
        print(PASSWD_MISSING)
        pytest.skip(PASSWD_MISSING)
    path = tmp_path / "passwd"
    subprocess.run(
        [MOSQUITTO_PASSWD, "-c", "-b", str(path), "agent-1", "mật khẩu"], check=True, timeout=30
    )
    user, _, encoded = path.read_text().strip().partition(":")
    salt = base64.b64decode(encoded.split("$")[3])

    assert user == "agent-1"
    assert push.hash_password("mật khẩu", salt) == encoded
    assert push.check_password("mật khẩu", encoded)
    assert not push.check_password("mat khau", encoded)


def test_the_files_hold_the_server_and_each_active_enrolled_agent(files, desk, enrolled):
    commune = enrolled(desk.commune)
    city = enrolled(desk.city)
    service.revoke_agent(None, city.agent)
    service.add_agent(None, desk.foreign)  # not enrolled yet: no credential, no broker user
    passwords, acl = files

    result = push.write_broker_files(passwords, acl)

    assert (result.agents, result.changed) == (1, True)
    lines = dict(line.split(":", 1) for line in passwords.read_text().splitlines())
    user = f"agent-{commune.agent.id}"
    assert list(lines) == ["loa-server", user]
    assert push.check_password("server-secret", lines["loa-server"])
    assert push.check_password(push.agent_password(commune.agent), lines[user])
    body = [line for line in acl.read_text().splitlines() if line and not line.startswith("#")]
    assert body == [
        "user loa-server",
        "topic write loa/stations/+/wake",
        f"user {user}",
        "topic read loa/stations/PT-PHUTHUY/wake",
    ]


def test_files_are_replaced_whole_mode_0640_and_left_alone_when_nothing_changed(
    files, desk, enrolled
):
    enrolled(desk.commune)
    passwords, acl = files
    push.write_broker_files(passwords, acl)
    inode = passwords.stat().st_ino

    again = push.write_broker_files(passwords, acl)

    # Hashes that still match are kept, so the same users give the same bytes.
    assert not again.changed and passwords.stat().st_ino == inode
    enrolled(desk.city)
    later = push.write_broker_files(passwords, acl)
    assert later.changed and later.agents == 2
    # A new file renamed over the old one: a broker reading it never sees half a file.
    assert passwords.stat().st_ino != inode
    for path in (passwords, acl):
        assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in passwords.parent.iterdir()) == ["acl", "passwd"]


def test_the_command_writes_both_files(files, runner, desk, enrolled):
    enrolled(desk.commune)
    passwords, acl = files

    result = runner.invoke(args=["broker", "files", "--passwords", passwords, "--acl", acl])

    assert result.exit_code == 0, result.output
    assert "written" in result.output and "1 agent" in result.output
    assert passwords.exists() and acl.exists()
    result = runner.invoke(args=["broker", "files", "--passwords", passwords, "--acl", acl])
    assert "unchanged" in result.output


def test_the_command_refuses_without_the_servers_password(app, runner, tmp_path):
    app.config["MQTT_PASSWORD"] = ""

    result = runner.invoke(
        args=["broker", "files", "--passwords", tmp_path / "p", "--acl", tmp_path / "a"]
    )

    assert result.exit_code == 1 and "MQTT_PASSWORD is not set" in result.output
    assert not (tmp_path / "p").exists()


def test_the_command_refuses_a_server_user_that_looks_like_an_agent(files, runner):
    runner.app.config["MQTT_USERNAME"] = "agent-1"
    passwords, acl = files

    result = runner.invoke(args=["broker", "files", "--passwords", passwords, "--acl", acl])

    assert result.exit_code == 1 and "MQTT_USERNAME" in result.output


def test_the_two_files_must_differ(files, runner):
    passwords, _ = files

    result = runner.invoke(args=["broker", "files", "--passwords", passwords, "--acl", passwords])

    assert result.exit_code == 1 and "two different files" in result.output
