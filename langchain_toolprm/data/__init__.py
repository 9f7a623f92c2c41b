"""PRM and policy training data: sources, masking, rollouts, labels."""
