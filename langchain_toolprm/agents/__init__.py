"""Environments an agent built on the chat model acts in: executable tools with state, kept out
of the core runtime (``core/`` never imports this package). ``apibank``: API-Bank's level-1 APIs."""
