"""Fixtures shared by the browser tests: a profile whose new sessions answer from the
scripted OpenAI-compatible server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.openai_server import OpenAIServer, Reply
from tests.support.profiles import write_config

ANSWER = "Rivers carry dissolved salts into the sea, and the sun takes only water away."
PEER_MODEL = "peer::echo"


@pytest.fixture
def peer_profile(isolated_env: Path, openai_peer: OpenAIServer,
                 monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    """New sessions answer from the scripted OpenAI-compatible server, word by word (the
    app processes of the tabs read the same settings file)."""
    write_config(isolated_env, f'default_model = "{PEER_MODEL}"\n\n[endpoints.peer]\n'
                               f'base_url = "{openai_peer.base_url}"\n')
    monkeypatch.delenv("TALU_CHAT_DEFAULT_MODEL")
    openai_peer.script("echo", Reply(text=ANSWER, rate=25))
    return openai_peer
