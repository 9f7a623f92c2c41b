"""Where token probabilities come from: in-process transformers, served engines."""
