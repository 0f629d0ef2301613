"""`talu-chat repl`: the chat as a line-oriented REPL on prompt-toolkit.

It renders what the conversation service yields and runs the shared slash commands; it holds no
business logic of its own. `session.Repl` is the loop, `cli.repl` the command.
"""
