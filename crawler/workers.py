"""Helper processes that never outlive the crawl that started them.

A crawl killed with SIGKILL runs no clean-up: its extraction workers (children of
multiprocessing's fork server, not of the crawl) would live on, reparented to PID 1. Each worker
therefore asks the kernel for SIGKILL when its parent exits (Linux ``PR_SET_PDEATHSIG``) and
watches the crawl's own PID, exiting within a second once that is gone (any platform, and the
case where the fork server outlives the crawl).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import sys
import threading
import time

#: From <linux/prctl.h>.
_PR_SET_PDEATHSIG = 1
#: How often a worker checks that the crawl is still there.
WATCH_SECONDS = 1.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _watch(pid: int) -> None:
    while _alive(pid) and os.getppid() != 1:
        time.sleep(WATCH_SECONDS)
    os._exit(1)


def die_with_parent(crawl_pid: int) -> None:
    """Worker initializer: end this process when the crawl ``crawl_pid`` (or the direct parent)
    is gone."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if not _alive(crawl_pid) or os.getppid() == 1:  # gone before the kernel could be asked
        os._exit(1)
    threading.Thread(target=_watch, args=(crawl_pid,), name="crawl-watch", daemon=True).start()
