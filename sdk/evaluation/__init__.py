"""Evaluation against ground truth (used by ``articulate evaluate``)."""
