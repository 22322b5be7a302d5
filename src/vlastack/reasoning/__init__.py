"""Reasoning before acting: subtask and reason annotations from the scripted experts' phases
(``phases``, ``reasons``, ``annotate``) and clarification of ambiguous instructions (``clarify``)."""
