"""The REPL's keys, as documented in `talu-chat repl --help` and `/help`.

Kept free of imports so the command line can show them without loading prompt-toolkit; the
bindings themselves are in `prompt.key_bindings`.
"""

KEYS_HELP = """\
Enter              send the message
Alt+Enter, Ctrl+J  start a new line in the message
Tab                complete /commands, model references and session ids
Up, Down           earlier messages (history kept per profile)
Ctrl+X Ctrl+E      edit the message in $EDITOR
Ctrl+C             stop the answer (what arrived is kept), or clear the prompt
Ctrl+D             quit (on an empty prompt), like /quit
A message starting with // sends a literal /."""
