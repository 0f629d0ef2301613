"""`talu-chat web`: the same Textual app in a browser tab, behind a token (see server.py)."""
