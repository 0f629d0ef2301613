"""The Textual TUI of talu-chat."""
