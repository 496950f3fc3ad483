"""Pure-Python rules of the campaign: dimensions, deadlines, the rulebooks and their engine, price
measures and the case state machine. Nothing here imports Django, so it can be tested and reused alone.
"""
