"""The web studio (`realtime-style serve`): an ASGI app that serves a page and an API.

How a frame travels: the page's camera frame (JPEG, over a WebSocket, sent only with a
credit) -> ``sessions.ClientSession`` (a newest-wins slot) -> the frame pipeline of
``realtime_style.pipeline`` (engine from ``engines.EnginePool``, then the client's own
smoother) -> JPEG back to the page with the same frame id. Uploaded videos go through
``jobs.JobQueue`` to ``jobs/convert.py``'s ``convert``. ``security`` checks the token, the
Host header and the WebSocket's Origin before any route runs; ``app`` holds the routes.
Starlette and uvicorn come with the ``serve`` extra.
"""
