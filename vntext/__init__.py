"""Vietnamese text rules shared by every layer (knowledge, retrieval, handlers, bot).

The bottom of the house: it imports nothing of ours, so anything may use it.
"""
