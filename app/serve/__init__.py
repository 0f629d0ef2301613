"""`talu-chat serve`: an OpenAI-compatible HTTP API in front of every model talu-chat reaches.

A face like the TUI: it calls the engine for answers and the conversation service to store
them. Built on FastAPI/Starlette, uvicorn and sse-starlette, which load only when the server
runs (`talu-chat --help` and the other commands never import them).
"""
