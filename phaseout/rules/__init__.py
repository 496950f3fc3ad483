"""Pure-Python rules of the campaign: dimensions, deadlines, the built-in rule list and
the case state machine. Nothing here imports Django, so it can be tested and reused alone.
"""
