"""A real Dovecot IMAP server of our own on 127.0.0.1: temp config, maildir owned by `nobody`."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
MAIL_USER = "nobody"  # Dovecot refuses to serve mail as uid 0

_CONFIG = """\
base_dir = {work}/run
state_dir = {work}/state
log_path = {work}/dovecot.log
info_log_path = {work}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{work}/mail/%u
mail_uid = {uid}
mail_gid = {gid}
first_valid_uid = 1
default_internal_user = {user}
default_login_user = {user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {work}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={work}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Dovecot:
    """One Dovecot instance: start, kill, restart on the same port and mail store."""

    def __init__(self, user: str = "mayor@hotline.test", password: str = "letters-12345") -> None:
        if not Path(DOVECOT).is_file():
            raise RuntimeError("install Debian dovecot-imapd (scripts/test.sh does)")
        self.user = user
        self.password = password
        self.work = Path(tempfile.mkdtemp(prefix="hotline-dovecot-"))
        os.chmod(self.work, 0o755)  # the mail user must reach its maildir below
        self.port = _free_port()
        pw = pwd.getpwnam(MAIL_USER)
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        for sub in ("run", "state", "mail"):
            (self.work / sub).mkdir()
        (self.work / "passwd").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
        self.config = self.work / "dovecot.conf"
        self.config.write_text(
            _CONFIG.format(
                work=self.work, port=self.port, uid=self.uid, gid=self.gid, user=MAIL_USER
            )
        )
        self.maildir = self.work / "mail" / user
        for sub in ("cur", "new", "tmp"):
            (self.maildir / sub).mkdir(parents=True)
        self._own(self.work / "mail")
        self.proc: subprocess.Popen[bytes] | None = None

    def _own(self, path: Path) -> None:
        for root, dirs, files in os.walk(path):
            os.chown(root, self.uid, self.gid)
            for name in dirs + files:
                os.chown(os.path.join(root, name), self.uid, self.gid)

    def start(self, timeout: float = 15) -> None:
        """Run `dovecot -F` in the foreground (our child) until the IMAP port answers."""
        self.proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.config)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while not _listening(self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log = (self.work / "dovecot.log").read_text(errors="replace")[-3000:]
                self.stop()
                raise RuntimeError(f"dovecot did not start:\n{log}")
            time.sleep(0.05)

    def kill(self) -> None:
        """SIGKILL the whole process group, as a crashing server would go."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.proc = None
        # The dead master leaves its pid and sockets; a restart must not trip over them.
        shutil.rmtree(self.work / "run", ignore_errors=True)
        (self.work / "run").mkdir()

    def stop(self) -> None:
        """Stop gracefully (SIGTERM to the master, then SIGKILL to anything left)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait()
        self.proc = None

    def deliver(self, raw: bytes) -> Path:
        """Drop a message into the maildir's new/ (works while the server is down, too)."""
        name = f"{time.time():.6f}.{uuid.uuid4().hex}.hotline-test"
        tmp = self.maildir / "tmp" / name
        tmp.write_bytes(raw)
        os.chown(tmp, self.uid, self.gid)
        dest = self.maildir / "new" / name
        os.rename(tmp, dest)
        return dest

    def reset_uidvalidity(self) -> None:
        """Forget the maildir's UID list, so the next session sees a new UIDVALIDITY."""
        for name in (
            "dovecot-uidlist",
            "dovecot.index",
            "dovecot.index.log",
            "dovecot.index.cache",
        ):
            (self.maildir / name).unlink(missing_ok=True)
        for f in (self.maildir / "cur").iterdir():
            os.rename(f, self.maildir / "new" / f.name.split(":", 1)[0])

    def remove(self) -> None:
        """Stop and delete everything."""
        self.stop()
        shutil.rmtree(self.work, ignore_errors=True)
