"""The runtime: messages + tools -> prompt -> search (proposer, backend, scorer) -> calls."""
