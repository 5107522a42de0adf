"""Torch-free, numpy-free facts every package shares (Python >= 3.9).

Names, errors, envelope, limits, graph schema, artifact and config readers.
"""
