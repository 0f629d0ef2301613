"""Pick a model: discovered local GGUF files and every endpoint's models, with plan details."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from engine import EngineError

from ...formatting import human_size

if TYPE_CHECKING:
    from engine import Engine, ModelInfo


ResultT = TypeVar("ResultT")


def plan_text(plan: dict[str, Any]) -> str:
    """A plan as aligned `key  value` lines (files by name: `models plan` shows the path)."""
    plan = dict(plan)
    if "file" in plan:
        plan["file"] = Path(plan["file"]).name
        plan.pop("model", None)
    if "size_bytes" in plan:
        plan["size"] = human_size(plan.pop("size_bytes"))
    width = max(len(k) for k in plan)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in plan.items())


class PickerBase(ModalScreen[ResultT]):
    """Lists models as they are discovered; Enter picks, typing a reference works too."""

    AUTO_FOCUS = "#model-filter"

    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel"),
                Binding("down", "focus_list", "Models", show=False)]

    TITLE = "Switch model (applies to the next answer)"
    HELP = "Enter picks · Esc cancels"

    def __init__(self, engine: Engine, current: str | None) -> None:
        super().__init__()
        self.engine = engine
        self.current = current
        self.models: list[ModelInfo] = []

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="model-picker"):
            yield Static(Content(self.TITLE), classes="title")
            yield Input(placeholder="filter, or type a reference like openai::gpt-4o-mini",
                        id="model-filter")
            yield OptionList(id="model-list")
            yield Static(Content("discovering models…"), classes="details", id="model-details")
            yield Static(Content(self.HELP), classes="help")

    def mark(self, ref: str) -> str:
        """The mark before a model in the list."""
        return "● " if ref == self.current else "  "

    def picked(self, ref: str) -> None:
        """A valid reference was chosen."""

    def on_mount(self) -> None:
        self.discover()

    @work(exclusive=True, group="discover")
    async def discover(self) -> None:
        models, errors = await self.engine.list_models()
        self.models = models
        self._fill(self.query_one("#model-filter", Input).value)  # what was typed meanwhile
        details = [f"{name}: {error}" for name, error in errors.items()]
        self.query_one("#model-details", Static).update(
            Content("\n".join(details) if details else f"{len(models)} models"))

    def action_focus_list(self) -> None:
        """↓ from the filter box moves into the list."""
        self.query_one("#model-list", OptionList).focus()

    def _fill(self, text: str) -> None:
        option_list = self.query_one("#model-list", OptionList)
        option_list.clear_options()
        needle = text.lower()
        for model in self.models:
            if needle and needle not in model.ref.lower():
                continue
            size = human_size(model.size_bytes) if model.size_bytes else ""
            extra = " · ".join(str(x) for x in (model.source, size,
                                                model.details.get("quantization")) if x)
            option_list.add_option(Option(Content(f"{self.mark(model.ref)}{model.ref}   {extra}"),
                                          id=model.ref))
        if option_list.option_count:
            option_list.highlighted = 0

    @on(Input.Changed, "#model-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    @on(Input.Submitted, "#model-filter")
    def _typed(self, event: Input.Submitted) -> None:
        option_list = self.query_one("#model-list", OptionList)
        if "::" in event.value or event.value.endswith(".gguf") or not option_list.option_count:
            self._choose(event.value.strip())
        else:
            option = option_list.get_option_at_index(option_list.highlighted or 0)
            self._choose(str(option.id))

    @on(OptionList.OptionHighlighted, "#model-list")
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        self.show_plan(str(event.option.id))

    @work(exclusive=True, group="plan", thread=True)
    def show_plan(self, ref: str) -> None:
        try:
            text = plan_text(self.engine.plan(ref))
        except EngineError as exc:
            text = str(exc)
        self.app.call_from_thread(self._show_details, text)

    def _show_details(self, text: str) -> None:
        """Show `text` under the list; nothing once the picker has closed (a plan or a check
        of a local model can take longer than the person takes to pick)."""
        for details in self.query("#model-details").results(Static):
            details.update(Content(text))

    @on(OptionList.OptionSelected, "#model-list")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(str(event.option.id))

    def _choose(self, ref: str) -> None:
        if ref:
            self.validate(ref)

    @work(exclusive=True, group="validate", thread=True)
    def validate(self, ref: str) -> None:
        """Resolve `ref` (discovery reads the disk) and pick it, or show why not."""
        try:
            self.engine.resolve(ref)
        except EngineError as exc:
            self.app.call_from_thread(self._show_details, str(exc))
            return
        self.app.call_from_thread(self._picked_if_open, ref)

    def _picked_if_open(self, ref: str) -> None:
        if self.is_current:  # not after Esc (or Ctrl+S) closed the picker meanwhile
            self.picked(ref)


class ModelPicker(PickerBase[str | None]):
    """Pick the model of the next answer."""

    def picked(self, ref: str) -> None:
        self.dismiss(ref)


class CompareModelPicker(PickerBase[list[str] | None]):
    """Pick two or more models to answer the next message side by side."""

    TITLE = "Compare models: your next message goes to each of them"
    HELP = "Enter selects / unselects · Ctrl+S compares (2 or more) · Esc cancels"
    BINDINGS = [*PickerBase.BINDINGS,
                Binding("ctrl+s", "compare", "Compare", priority=True)]

    def __init__(self, engine: Engine, current: str | None) -> None:
        super().__init__(engine, current)
        self.selected: list[str] = []

    def mark(self, ref: str) -> str:
        return "☑ " if ref in self.selected else "☐ "

    def picked(self, ref: str) -> None:
        if ref in self.selected:
            self.selected.remove(ref)
        else:
            self.selected.append(ref)
        option_list = self.query_one("#model-list", OptionList)
        highlighted = option_list.highlighted
        self._fill(self.query_one("#model-filter", Input).value)
        if highlighted is not None and highlighted < option_list.option_count:
            option_list.highlighted = highlighted
        shown = ", ".join(self.selected) or "none"
        self.query_one("#model-details", Static).update(Content(f"selected: {shown}"))

    def action_compare(self) -> None:
        """Dismiss with the selection (two or more models)."""
        if len(self.selected) < 2:
            self.query_one("#model-details", Static).update(
                Content("select two or more models to compare"))
            return
        self.dismiss(list(self.selected))
