"""The TUI, driven with Pilot against the real bundled model and a real llama_cpp.server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.tui.screens.chat import ChatScreen
from app.tui.screens.export import ExportScreen
from app.tui.screens.model_picker import ModelPicker
from app.tui.screens.search import SearchScreen
from app.tui.widgets.message_view import MessageView
from tests.app.tui_support import chat, make_app, send, wait_until
from tests.servers import LlamaServer, free_port

SIZE = (120, 40)


def stored(app, session_id: str):
    return app.service.store.get_messages(session_id)


async def test_send_and_stream_stores_the_turn() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Say hello in five words.")
        screen = chat(pilot)
        messages = stored(app, screen.session_id)
        assert [m.role for m in messages] == ["user", "assistant"]
        answer = messages[1]
        assert answer.status == "complete" and answer.content.strip()
        assert answer.model_ref == "local::smollm2" and answer.tokens_per_s
        views = screen.log_view.views()
        assert [v.message.id for v in views] == [m.id for m in messages]
        assert views[1].text == answer.content
        meta = str(views[1].query_one(".meta").render())
        assert "local::smollm2" in meta and "tok/s" in meta and "TTFT" in meta
        # the sidebar lists the new session under Recent, titled by the first message
        labels = [str(n.label) for n in screen.sidebar.tree.root.children[1].children]
        assert labels == ["Say hello in five words."]


async def test_escape_stops_mid_stream_and_keeps_the_partial_answer() -> None:
    app = make_app(generation={"max_tokens": 600, "temperature": 0})  # a ~120-token answer
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        screen.prompt.load_text("Count from 1 to 400, one number per line.")
        await pilot.press("enter")
        await wait_until(pilot, lambda: bool(screen.runs) and screen.runs[
            screen.session_id][1] is not None and len(screen.runs[screen.session_id][1].text) > 0,
            tries=100000)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.runs)
        answer = stored(app, screen.session_id)[-1]
        assert answer.status == "cancelled" and answer.finish_reason == "cancelled"
        assert answer.content.strip()
        view = screen.log_view.views()[-1]
        assert "cancelled" in str(view.query_one(".meta").render())
        assert view.text == answer.content


@pytest.mark.server
async def test_switch_model_mid_session_to_an_endpoint(server: LlamaServer,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__LS__BASE_URL", server.base_url)
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__LS__API_KEY", server.api_key)
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
        messages = stored(app, screen.session_id)
        assert [m.model_ref for m in messages if m.role == "assistant"] == [
            "local::smollm2", "ls::smollm2"]
        assert messages[-1].status == "complete" and messages[-1].backend == "ls"
        # the second answer saw the whole history: four messages in, prompt includes turn one
        assert app.service.store.get_session(screen.session_id).model_ref == "ls::smollm2"


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
        fork = app.service.store.get_session(screen.session_id)
        assert fork.parent_session_id == original
        assert [m.content for m in stored(app, fork.id)] == [
            m.content for m in stored(app, original)[:2]]
        await wait_until(pilot, lambda: "⑂" in str(screen.sidebar.tree.root.children[1]
                                                     .children[0].children[0].label
                                                     if screen.sidebar.tree.root.children[1]
                                                     .children[0].children else ""))


async def test_pin_archive_trash_restore() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hi")
        screen = chat(pilot)
        store, sid = app.service.store, screen.session_id

        async def press_and_expect(key: str, marker: str) -> None:
            await pilot.press(key)
            await wait_until(pilot, lambda: store.get_session(sid).marker == marker)

        await press_and_expect("f6", "pinned")
        tree = screen.sidebar.tree
        await wait_until(pilot, lambda: [n.data for n in tree.root.children[0].children] == [sid])
        await press_and_expect("f6", "normal")
        await press_and_expect("f7", "archived")
        await press_and_expect("f7", "normal")
        await press_and_expect("f8", "deleted")
        await wait_until(pilot, lambda: [n.data for n in tree.root.children[3].children] == [sid])
        await press_and_expect("f8", "normal")  # F8 again undoes


async def test_search_and_open_at_the_message() -> None:
    app = make_app()
    store = app.service.store
    target = store.create_session(model_ref="local::smollm2")
    for i in range(60):
        store.add_message(target.id, "user", f"filler message {i}")
    hit = store.add_message(target.id, "user", "the zebra crossing question")
    for i in range(60):
        store.add_message(target.id, "assistant", f"more filler {i}")
    other = store.create_session(model_ref="local::smollm2")
    store.add_message(other.id, "user", "nothing to see")
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
        screen = chat(pilot)
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
        answer = stored(app, screen.session_id)[-1].content
        html = target.read_text()
        assert "<html" in html.lower() and "Tell me about the moon." in html
        assert answer.split()[0] in html
        await wait_until(pilot, lambda: any(str(target) in str(n.message)
                                            for n in app._notifications))


async def test_backend_error_is_inline_and_retry_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__BASE_URL",
                       f"http://127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("TALU_CHAT_ENDPOINTS__DOWN__MAX_RETRIES", "0")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await screen.switch_model("down::any")
        await send(pilot, "Are you there?")
        messages = stored(app, screen.session_id)
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[1].status == "error" and "cannot reach down" in messages[1].error
        view = screen.log_view.views()[-1]
        assert view.has_class("-error")
        assert "retry" in str(view.query_one(".error-text").render())
        # back on the local model, r on the failed answer retries the same question
        await screen.switch_model("local::smollm2")
        view.focus()
        await pilot.press("r")
        await wait_until(pilot, lambda: not screen.runs and stored(
            app, screen.session_id)[-1].status == "complete")
        messages = stored(app, screen.session_id)
        assert [m.role for m in messages] == ["user", "assistant"]
        assert messages[1].status == "complete" and messages[1].model_ref == "local::smollm2"


async def test_slash_commands_rename_system_and_unknown() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "Hello")
        screen = chat(pilot)
        screen.prompt.load_text("/rename Moon talk")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.service.store.get_session(
            screen.session_id).title == "Moon talk")
        screen.prompt.load_text("/set temperature 0.2")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.service.store.get_session(
            screen.session_id).generation_config.get("temperature") == 0.2)
        screen.prompt.load_text("/nonsense")
        await pilot.press("enter")
        await wait_until(pilot, lambda: any("unknown command" in str(n.message)
                                            for n in app._notifications))


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
    app = make_app()
    store = app.service.store
    session = store.create_session(model_ref="[bold red]fake[/] ref")
    store.add_message(session.id, "user", "show me")
    evil = "[@click=app.quit]click me[/] \x1b[31mred\x1b[0m \x1b]52;c;aGk=\x07 done"
    store.add_message(session.id, "assistant", evil, model_ref="[b]x[/b]",
                      finish_reason="stop")
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
    app = make_app()
    store = app.service.store
    session = store.create_session(model_ref="local::smollm2")
    for i in range(150):
        store.add_message(session.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await wait_until(pilot, lambda: len(screen.log_view.views()) > 0)
        assert len(screen.log_view.views()) == 40
        screen.log_view.scroll_home(animate=False)
        await wait_until(pilot, lambda: len(screen.log_view.views()) == 80)
        assert screen.log_view.views()[0].message.content == "message 70"


async def test_profile_switcher(tmp_path: Path) -> None:
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
        assert app.service.store.list_sessions("all") == []


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
        await wait_until(pilot, lambda: any("broken.toml" in str(n.message)
                                            for n in app._notifications))
