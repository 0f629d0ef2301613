"""Widgets of the TUI, grouped by the part of the screen they serve."""
