"""The TUI, driven with Pilot: flows on the scripted backend (exact answers), one turn on the
bundled model, model switching against a scripted OpenAI-compatible server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.tui.screens.chat import ChatScreen
from app.tui.screens.export import ExportScreen
from app.tui.screens.model_picker import ModelPicker
from app.tui.screens.search import SearchScreen
from app.tui.widgets.message_view import MessageView
from tests.app.tui_support import (
    chat,
    make_app,
    messages,
    notifications,
    send,
    session,
    session_tree,
    type_text,
    wait_until,
)
from tests.support.openai_server import OpenAIServer
from tests.support.ports import free_port
from tests.support.profiles import open_store
from tests.support.scripted_backend import echo

SIZE = (120, 40)


async def test_send_and_stream_stores_the_turn(scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Say hello in five words.")
        screen = chat(pilot)
        stored = messages(screen.session_id)
        assert [(m.role, m.content) for m in stored] == [
            ("user", "Say hello in five words."), ("assistant", "Echo: Say hello in five words.")]
        answer = stored[1]
        assert (answer.status, answer.finish_reason) == ("complete", "stop")
        assert answer.model_ref == "scripted::echo" and answer.backend == "scripted"
        assert (answer.prompt_tokens, answer.completion_tokens) == (5, 6)
        assert answer.ttft_s is not None and answer.tokens_per_s
        # the model saw the question and nothing else
        [call] = scripted.calls
        assert [(m.role, m.content) for m in call.messages] == [
            ("user", "Say hello in five words.")]
        views = screen.log_view.views()
        assert [v.message.id for v in views] == [m.id for m in stored]
        assert views[1].text == "Echo: Say hello in five words."
        meta = str(views[1].query_one(".meta").render())
        assert "scripted::echo" in meta and "tok/s" in meta and "TTFT" in meta
        # the sidebar lists the new session under Recent, titled by the first message
        labels = [str(n.label) for n in session_tree(screen).root.children[1].children]
        assert labels == ["Say hello in five words."]


async def test_a_turn_on_the_bundled_model(real_model: str) -> None:
    app = make_app(generation={"max_tokens": 16, "temperature": 0})
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Say hello in five words.")
        screen = chat(pilot)
        user, answer = messages(screen.session_id)
        assert answer.status == "complete" and answer.content.strip()
        assert answer.model_ref == "local::smollm2" and answer.backend == "local"
        assert answer.tokens_per_s and 1 <= answer.completion_tokens <= 16
        assert screen.log_view.views()[1].text == answer.content


async def test_escape_stops_mid_stream_and_keeps_the_partial_answer(scripted) -> None:
    ref = scripted.use("ticks", chunks=["Counting:"], endless=True, delay_s=0.01)
    app = make_app(default_model=ref)
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await type_text(pilot, "Count for ever.")
        await wait_until(pilot, lambda: bool(scripted.calls) and len(scripted.calls[0].streamed)
                         > 3 and " tick 3" in screen.log_view.views()[-1].text, tries=100000)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.runs)
        [call] = scripted.calls
        assert call.outcome == "cancelled"  # the backend's stream was closed: it never ends
        answer = messages(screen.session_id)[-1]
        assert (answer.status, answer.finish_reason) == ("cancelled", "cancelled")
        assert answer.content.startswith("Counting: tick 1 tick 2 tick 3")
        assert call.text.startswith(answer.content)  # everything shown was kept
        view = screen.log_view.views()[-1]
        assert "cancelled" in str(view.query_one(".meta").render())
        assert view.text == answer.content


async def test_switch_model_mid_session_to_an_endpoint(
        openai_peer: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> None:
    openai_peer.models = ["smollm2"]
    for name, value in openai_peer.env("ls").items():
        monkeypatch.setenv(name, value)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Name a fruit.")
        screen = chat(pilot)
        await pilot.press("f4")
        await wait_until(pilot, lambda: isinstance(app.screen, ModelPicker))
        picker = app.screen
        await wait_until(pilot, lambda: any(m.ref == "ls::smollm2" for m in picker.models))
        await pilot.press(*"ls::smol")
        await pilot.press("down", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen))
        assert screen.status.model_ref == "ls::smollm2"
        await send(pilot, "And a vegetable?")
        stored = messages(screen.session_id)
        assert [(m.model_ref, m.content) for m in stored if m.role == "assistant"] == [
            ("scripted::echo", "Echo: Name a fruit."), ("ls::smollm2", "Echo: And a vegetable?")]
        assert stored[-1].status == "complete" and stored[-1].backend == "ls"
        assert session(screen.session_id).model_ref == "ls::smollm2"
        # the endpoint got the whole history, as a streamed request for its model
        [request] = openai_peer.chat_requests
        assert request.model == "smollm2" and request.stream
        assert request.messages == [
            {"role": "user", "content": "Name a fruit."},
            {"role": "assistant", "content": "Echo: Name a fruit."},
            {"role": "user", "content": "And a vegetable?"}]


async def test_fork_from_a_message() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "First question?")
        await send(pilot, "Second question?")
        screen = chat(pilot)
        original = screen.session_id
        await pilot.press("ctrl+up")  # focus the last message
        await pilot.press("up", "up")  # the second user message → the first answer
        focused = app.focused
        assert isinstance(focused, MessageView) and focused.message.position == 1
        await pilot.press("f")
        await wait_until(pilot, lambda: screen.session_id != original)
        fork = session(screen.session_id)
        assert fork.parent_session_id == original
        assert [m.content for m in messages(fork.id)] == ["First question?",
                                                          "Echo: First question?"]

        def fork_listed_under_its_parent() -> bool:
            recent = session_tree(screen).root.children[1]  # the tree is rebuilt: look again
            return bool(recent.children and recent.children[0].children) and "⑂" in str(
                recent.children[0].children[0].label)

        await wait_until(pilot, fork_listed_under_its_parent)


async def test_pin_archive_trash_restore() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        screen = chat(pilot)
        sid = screen.session_id

        async def press_and_expect(key: str, marker: str) -> None:
            await pilot.press(key)
            await wait_until(pilot, lambda: session(sid).marker == marker)

        await press_and_expect("f6", "pinned")
        tree = session_tree(screen)
        await wait_until(pilot, lambda: [n.data for n in tree.root.children[0].children] == [sid])
        await press_and_expect("f6", "normal")
        await press_and_expect("f7", "archived")
        await press_and_expect("f7", "normal")
        await press_and_expect("f8", "deleted")
        await wait_until(pilot, lambda: [n.data for n in tree.root.children[3].children] == [sid])
        await press_and_expect("f8", "normal")  # F8 again undoes


async def test_search_and_open_at_the_message() -> None:
    with open_store() as store:
        target = store.create_session(model_ref="scripted::echo")
        for i in range(60):
            store.add_message(target.id, "user", f"filler message {i}")
        hit = store.add_message(target.id, "user", "the zebra crossing question")
        for i in range(60):
            store.add_message(target.id, "assistant", f"more filler {i}")
        other = store.create_session(model_ref="scripted::echo")
        store.add_message(other.id, "user", "nothing to see")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await pilot.press("f3")
        await wait_until(pilot, lambda: isinstance(app.screen, SearchScreen))
        await pilot.press(*"zebra")
        search = app.screen
        await wait_until(pilot, lambda: len(search.hits) == 1)
        await pilot.press("enter", "enter")
        await wait_until(pilot, lambda: isinstance(app.screen, ChatScreen)
                         and screen.session_id == target.id)
        view = screen.log_view.view_for(hit.id)
        assert view is not None and app.focused is view


async def test_export_writes_the_file_and_shows_its_path(tmp_path: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Tell me about the moon.")
        await pilot.press("f5")
        await wait_until(pilot, lambda: isinstance(app.screen, ExportScreen))
        export = app.screen
        export.query_one("#export-format").query("RadioButton")[3].value = True  # HTML
        await pilot.pause()
        path_input = export.query_one("#export-path")
        path_input.value = str(tmp_path / "moon.html")
        await pilot.press("enter")
        target = tmp_path / "moon.html"
        await wait_until(pilot, target.exists)
        html = target.read_text()
        assert "<html" in html.lower() and "Tell me about the moon." in html
        assert echo("Tell me about the moon.") in html
        await wait_until(pilot, lambda: any(str(target) in n for n in notifications(app)))


async def test_backend_error_is_inline_and_retry_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__BASE_URL",
                       f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__MAX_RETRIES", "0")
    app = make_app(default_model="down::any")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await send(pilot, "Are you there?")
        stored = messages(screen.session_id)
        assert [m.role for m in stored] == ["user", "assistant"]
        assert stored[1].status == "error" and "cannot reach down" in stored[1].error
        view = screen.log_view.views()[-1]
        assert view.has_class("-error")
        assert "retry" in str(view.query_one(".error-text").render())
        # on a working model, r on the failed answer retries the same question
        await type_text(pilot, "/model scripted::echo")
        await wait_until(pilot, lambda: session(screen.session_id).model_ref == "scripted::echo")
        screen.log_view.views()[-1].focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: not screen.runs and messages(
            screen.session_id)[-1].status == "complete")
        stored = messages(screen.session_id)
        assert [(m.role, m.content) for m in stored] == [
            ("user", "Are you there?"), ("assistant", "Echo: Are you there?")]
        assert stored[1].model_ref == "scripted::echo"


async def test_a_scripted_failure_mid_answer_keeps_the_partial_text(scripted) -> None:
    app = make_app(default_model="scripted::cut")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await send(pilot, "Tell me everything.")
        answer = messages(screen.session_id)[-1]
        assert (answer.status, answer.content) == ("error", "Half an answer")
        assert answer.error == "scripted cut the answer off: connection closed"
        view = screen.log_view.views()[-1]
        assert view.has_class("-error") and view.text == "Half an answer"


async def test_slash_commands_rename_system_and_unknown(scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hello")
        screen = chat(pilot)
        sid = screen.session_id
        await type_text(pilot, "/rename Moon talk")
        await wait_until(pilot, lambda: session(sid).title == "Moon talk")
        await type_text(pilot, "/set temperature 0.2")
        await wait_until(pilot, lambda: session(sid).generation_config.get("temperature") == 0.2)
        await type_text(pilot, "/nonsense")
        await wait_until(pilot, lambda: any("unknown command" in n for n in notifications(app)))
        await send(pilot, "Again")  # the next answer is generated with the new setting
        assert scripted.calls[-1].config.temperature == 0.2
        assert [m.content for m in scripted.calls[-1].messages] == ["Hello", "Echo: Hello",
                                                                    "Again"]


async def test_prompt_history_and_newline_key() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "First prompt")
        screen = chat(pilot)
        await pilot.press("up")
        assert screen.prompt.text == "First prompt"
        screen.prompt.clear()
        await pilot.press("a", "ctrl+j", "b")
        assert screen.prompt.text == "a\nb"


async def test_untrusted_output_is_shown_as_text() -> None:
    evil = "[@click=app.quit]click me[/] \x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07 done"
    with open_store() as store:
        hostile = store.create_session(model_ref="[bold red]fake[/] ref")
        store.add_message(hostile.id, "user", "show me")
        store.add_message(hostile.id, "assistant", evil, model_ref="[b]x[/b]",
                          finish_reason="stop")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: len(screen.log_view.views()) == 2)
        view = screen.log_view.views()[1]
        assert "[b]x[/b]" in str(view.query_one(".meta").render())
        rendered = "\n".join(str(line.text) for line in view.render_lines(
            view.region.reset_offset) if hasattr(line, "text"))
        assert "\x1b" not in rendered
        await pilot.click(view)
        await pilot.pause()
        assert app.is_running


async def test_long_sessions_mount_only_the_last_page_then_load_older() -> None:
    with open_store() as store:
        long = store.create_session(model_ref="scripted::echo")
        for i in range(150):
            store.add_message(long.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: len(screen.log_view.views()) > 0)
        assert len(screen.log_view.views()) == 40
        screen.log_view.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(screen.log_view.views()) == 80)
        assert screen.log_view.views()[0].message.content == "message 70"


async def test_profile_switcher() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi from default")
        await pilot.press("f10")
        await wait_until(pilot, lambda: type(app.screen).__name__ == "ProfileSwitcher")
        app.screen.query_one("#profile-new").focus()
        await pilot.press(*"work", "enter")
        await wait_until(pilot, lambda: app.profile == "work" and isinstance(
            app.screen, ChatScreen))
        screen = chat(pilot)
        assert screen.status.profile == "work"
        assert screen.log_view.views() == [] and screen.session_id is None
        await send(pilot, "Hi from work")
    with open_store("work") as store:
        [work] = store.list_sessions("all")
        assert [m.content for m in store.get_messages(work.id)] == [
            "Hi from work", "Echo: Hi from work"]
    with open_store() as store:
        [default] = store.list_sessions("all")
        assert store.get_messages(default.id)[0].content == "Hi from default"


async def test_theme_choice_is_persisted(isolated_env: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "talu-dark"
        app.theme = "talu-contrast"
        config = Path(os.environ["TALU_CHAT_CONFIG_DIR"]) / "config.toml"
        await wait_until(pilot, lambda: config.exists() and "talu-contrast" in config.read_text())
    assert make_app().theme == "talu-contrast"


async def test_bad_user_theme_file_is_reported(isolated_env: Path) -> None:
    themes = Path(os.environ["TALU_CHAT_CONFIG_DIR"]) / "themes"
    themes.mkdir(parents=True)
    (themes / "broken.toml").write_text('primary = "not-a-colour"\n')
    (themes / "sunset.toml").write_text('primary = "#ff8800"\ndark = true\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert "sunset" in app.available_themes
        await wait_until(pilot, lambda: any("broken.toml" in n for n in notifications(app)))
