"""The warm-up: once the chat's first frame is painted, a thread loads what the first answer
draws (the Markdown stack, the parser's patterns, common lexers), so the event loop does not
pay for it beside the first decode."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from app.tui import app as tui_app
from app.tui.warm_up import LANGUAGES, warm_up
from tests.app.tui_support import make_app, wait_until

PROBE = """
import json, sys
from pygments.lexers import CssLexer, PythonLexer
import app.tui.app
before = {"markdown": "app.tui.widgets.markdown" in sys.modules,
          "python": "_tokens" in vars(PythonLexer), "css": "_tokens" in vars(CssLexer)}
from app.tui.warm_up import warm_up
warm_up(("python",))
after = {"markdown": "app.tui.widgets.markdown" in sys.modules,
         "python": "_tokens" in vars(PythonLexer), "css": "_tokens" in vars(CssLexer)}
print(json.dumps([before, after]))
"""


def test_warm_up_loads_the_markdown_stack_and_compiles_the_lexers_it_names() -> None:
    # A fresh process: the test process has long loaded everything.
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60, check=True)
    before, after = json.loads(result.stdout)
    assert before == {"markdown": False, "python": False, "css": False}
    # Pygments compiles a lexer's patterns at its first use (`_tokens`): done ahead for the
    # languages named, not for the others.
    assert after == {"markdown": True, "python": True, "css": False}


def test_the_common_languages_all_have_a_lexer() -> None:
    from pygments.lexers import get_lexer_by_name

    for language in LANGUAGES:
        get_lexer_by_name(language)  # a misspelt name would only cost a plug-in scan


async def test_the_chat_starts_the_warm_up_in_a_thread_after_its_first_frame(
        monkeypatch: pytest.MonkeyPatch) -> None:
    threads: list[threading.Thread] = []
    done = threading.Event()

    def recorded() -> None:
        threads.append(threading.current_thread())
        warm_up(("python",))
        done.set()

    monkeypatch.setattr(tui_app, "warm_up", recorded)
    app = make_app()
    async with app.run_test() as pilot:
        await wait_until(pilot, done.is_set)
        assert threads == [threads[0]]  # once
        assert threads[0] is not threading.main_thread()  # off the event loop
