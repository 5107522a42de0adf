"""The GraphStorm model rebuilt from model.bin: encoder, node or edge head."""
