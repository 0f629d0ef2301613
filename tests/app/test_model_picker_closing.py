"""A model picker that closes while its threads still read a local model (its plan, the check
of a picked reference): their late answers are dropped and the app goes on. Found by the
browser tests: on a loaded machine a plan arrived after Ctrl+S had closed the compare picker,
and the picker's query for its details box raised NoMatches in the worker, ending the app."""

from __future__ import annotations

import pytest
from textual.css.query import NoMatches

from app.tui.screens.model_picker import CompareModelPicker, ModelPicker
from tests.app.tui_support import chat, make_app, wait_until


async def test_late_answers_to_a_closed_picker_are_dropped() -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        screen = chat(pilot)
        for key, kind in (("ctrl+g", CompareModelPicker), ("f4", ModelPicker)):
            await pilot.press(key)
            await wait_until(pilot, lambda k=kind: isinstance(app.screen, k))  # type: ignore[misc]
            picker = app.screen
            assert isinstance(picker, CompareModelPicker | ModelPicker)
            await pilot.press("escape")
            await wait_until(pilot, lambda p=picker: app.screen is screen  # type: ignore[misc]
                             and not p.query("*"))
            with pytest.raises(NoMatches):  # what the late answer used to do, in its thread
                picker.query_one("#model-details")
            picker._show_details("the plan of a model, too late")  # dropped, no NoMatches
            picker._picked_if_open("scripted::echo")  # not picked: the picker has gone
            await pilot.pause()
            assert app.is_running and app.screen is screen
            assert screen.compare_refs != ["scripted::echo"]
            assert screen.status.model_ref == "scripted::echo"  # unchanged (the default)
