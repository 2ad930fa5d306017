"""Evaluation: how well a model does (the LFW and folder protocols and their metrics) and how fast (bench)."""
