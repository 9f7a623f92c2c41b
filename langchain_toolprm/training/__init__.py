"""Training the PRM and the tool-tuned policy."""
