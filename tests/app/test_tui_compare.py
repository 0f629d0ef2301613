"""Compare in the TUI: the multi-select picker (key and palette), columns streaming side by
side (stacked when narrow) with their own metrics, Esc stops all, keep one answer or fork one
session per model — on two scripted backends."""

from __future__ import annotations

from textual.pilot import Pilot

from app.tui.palette import ACTIONS
from app.tui.screens.model_picker import CompareModelPicker
from app.tui.widgets.compare_view import CompareView
from tests.app.tui_support import chat, make_app, type_text, wait_until
from tests.conftest import Scripted
from tests.support.profiles import open_store

SIZE = (120, 40)


def answers(session_id: str | None) -> list[tuple[str | None, str, int, bool]]:
    assert session_id is not None
    with open_store() as store:
        return [(m.model_ref, m.content, m.alternative, m.chosen)
                for m in store.get_messages(session_id, alternatives=True)
                if m.role == "assistant"]


async def compared(pilot: Pilot, refs: list[str], text: str = "Which is better?") -> CompareView:
    """Arm a compare with /compare, send `text`, wait for every column to finish."""
    screen = chat(pilot)
    await type_text(pilot, "/compare " + " ".join(refs))
    await pilot.pause()
    assert screen.compare_refs == refs
    assert str(screen.prompt.placeholder).startswith("compare: your message goes to ")
    await type_text(pilot, text)
    await wait_until(pilot, lambda: bool(screen.query(CompareView)))
    view = screen.query_one(CompareView)
    await wait_until(pilot, lambda: all(c.message is not None for c in view.columns)
                     and not screen.compares.compares)  # type: ignore[union-attr]
    await pilot.pause()
    return view


async def test_compare_streams_columns_and_keeping_one_continues_on_its_model(
        scripted: Scripted) -> None:
    slow = scripted.use("slow", chunks=["Slow", " and", " sure."], delay_s=0.01)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        view = await compared(pilot, ["scripted::echo", slow])
        first, second = view.columns
        assert (first.text, second.text) == ("Echo: Which is better?", "Slow and sure.")
        assert not view.has_class("-stacked")
        assert first.region.y == second.region.y and first.region.x < second.region.x
        meta = str(second.query_one(".meta").content)
        assert "TTFT" in meta and "tok/s" in meta and "3 tokens" in meta
        assert slow not in meta and "‹" not in meta  # the model heads the column already
        sid = screen.session_id
        assert not screen.compare_refs and not screen.prompt.placeholder  # once only
        assert answers(sid) == [("scripted::echo", "Echo: Which is better?", 0, True),
                                (slow, "Slow and sure.", 1, False)]

        await pilot.press("ctrl+up")  # the answers are focusable like messages: the last one
        assert app.focused is second
        await pilot.press("left")
        assert app.focused is first
        await pilot.press("right", "enter")
        await wait_until(pilot, lambda: not screen.query(CompareView))
        last = screen.log_view.views()[-1]
        assert last.text == "Slow and sure."
        assert str(last.query_one(".meta").content).startswith("‹ 2/2 ›")
        assert screen.status.model_ref == slow
        with open_store() as store:
            assert store.get_session(sid).model_ref == slow  # type: ignore[arg-type]
        assert answers(sid)[1][3] is True


async def test_fork_per_model_and_a_failing_reference(scripted: Scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        view = await compared(pilot, ["scripted::echo", "nowhere::model"])
        bad = view.columns[1]
        assert bad.has_class("-error")
        assert "nowhere" in str(bad.query_one(".error-text").content)
        view.columns[0].focus()
        await pilot.press("f")
        sid = screen.session_id
        with open_store() as store:
            await wait_until(pilot, lambda: bool(store.children(sid)))  # type: ignore[arg-type]
            [fork] = store.children(sid)  # type: ignore[arg-type]
            assert fork.model_ref == "nowhere::model"
            assert store.get_messages(fork.id)[-1].status == "error"


async def test_keep_each_goes_on_with_the_first_answers_model(scripted: Scripted) -> None:
    slow = scripted.use("slow", chunks=["Slow."])
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)  # new sessions start on scripted::echo
        await compared(pilot, [slow, "scripted::echo"])
        await type_text(pilot, "/keep each")
        await wait_until(pilot, lambda: screen.status.model_ref == slow)
        sid = screen.session_id
        with open_store() as store:
            assert store.get_session(sid).model_ref == slow  # type: ignore[arg-type]
            [fork] = store.children(sid)  # type: ignore[arg-type]
            assert fork.model_ref == "scripted::echo"
            assert store.get_messages(fork.id)[-1].content == "Echo: Which is better?"


async def test_esc_stops_every_answer(scripted: Scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await type_text(pilot, "/compare scripted::endless scripted::endless")
        await type_text(pilot, "count")
        await wait_until(pilot, lambda: bool(screen.query(CompareView)) and all(
            "tick" in c.text for c in screen.query_one(CompareView).columns))
        await pilot.press("escape")
        await wait_until(pilot, lambda: not screen.compares.compares)  # type: ignore[union-attr]
        with open_store() as store:
            rows = store.get_messages(screen.session_id, alternatives=True)  # type: ignore[arg-type]
            assert [m.status for m in rows if m.role == "assistant"] == ["cancelled"] * 2


async def test_narrow_terminal_stacks_the_columns(scripted: Scripted) -> None:
    app = make_app()
    async with app.run_test(size=(70, 40)) as pilot:
        await pilot.press("ctrl+b")  # hide the sidebar: the chat takes the width
        view = await compared(pilot, ["scripted::echo", "scripted::echo"])
        first, second = view.columns
        assert view.has_class("-stacked")
        assert second.region.y > first.region.y and first.region.x == second.region.x


async def test_picker_selects_several_models_from_the_key(scripted: Scripted) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = chat(pilot)
        await pilot.press("ctrl+g")
        await wait_until(pilot, lambda: isinstance(app.screen, CompareModelPicker))
        picker = app.screen
        assert isinstance(picker, CompareModelPicker)
        for ref in ("scripted::echo", "scripted::other"):
            picker.query_one("#model-filter").value = ref  # type: ignore[attr-defined]
            await pilot.press("enter")
            await wait_until(pilot, lambda r=ref: r in picker.selected)  # type: ignore[misc]
        await pilot.press("ctrl+s")
        await wait_until(pilot, lambda: screen.compare_refs == ["scripted::echo",
                                                                 "scripted::other"])
        assert not isinstance(app.screen, CompareModelPicker)
        assert ("Compare models…", "compare") in ACTIONS  # the palette reaches it too
        assert "Keep this answer" in screen.keys_help()
