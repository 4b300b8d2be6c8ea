"""Worker processes that do not outlive the process that started them."""

from __future__ import annotations

import ctypes
import os
import signal
import sys

__all__ = ["die_with_parent"]

_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent_pid: int) -> None:
    """Pool initializer (`initargs=(os.getpid(),)`): a SIGKILLed ingest must not leave its forked workers
    running, reparented to init, each holding its memory. On Linux the kernel sends SIGKILL to the worker
    when the thread that forked it dies; a parent that died before this line ran is caught by the pid
    check. Elsewhere only the pid check applies."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent_pid:
        os._exit(1)
