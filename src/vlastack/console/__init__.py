"""The operator console (``vlastack console``): a local web page over one live Meta-World session.

- :mod:`.session`: :class:`ConsoleSession`, the control loop with the operator in it (chat, stop) behind
  the always-on safety layer, and its :class:`ConsoleConfig`;
- :mod:`.server`: :class:`ConsoleServer`, the token-guarded HTTP server that steps the session and serves the page;
- :mod:`.page`: the page (inline style and script, no network assets).
"""
