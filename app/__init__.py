"""talu-chat's faces (command line, TUI, REPL), settings and the conversation service.

Run as the `talu-chat` command, Ctrl+C while the program is still loading its modules exits
quietly with 130 rather than printing a traceback; `app.cli.main` restores Python's own
handler once it starts.
"""

import os as _os
import signal as _signal
import sys as _sys


def _interrupted_while_loading(signum: int, frame: object) -> None:
    raise SystemExit(130)


if _os.path.basename(_sys.argv[0] if _sys.argv else "") == "talu-chat":
    _signal.signal(_signal.SIGINT, _interrupted_while_loading)
