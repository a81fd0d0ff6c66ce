"""Ending what a test started, by session id: a process started with ``start_new_session=True`` leads a session
that its Ray daemons and workers inherit. ``ray stop`` would end every Ray instance on the machine, a concurrent
test's too."""

import os

import psutil


def session_members(session_id: int) -> list[psutil.Process]:
    """The live processes of a session (this one excepted)."""
    members = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and os.getsid(proc.pid) == session_id:
                members.append(proc)
        except (OSError, psutil.Error):  # ended meanwhile
            continue
    return members


def end_session(session_id: int, grace: float = 10) -> None:
    """SIGTERM every process of the session, then SIGKILL those still alive after ``grace`` seconds."""
    members = []
    for proc in session_members(session_id):
        try:
            proc.terminate()
            members.append(proc)
        except psutil.Error:  # ended meanwhile
            continue
    _, alive = psutil.wait_procs(members, timeout=grace)
    for proc in alive:
        try:
            proc.kill()
        except psutil.Error:
            continue
