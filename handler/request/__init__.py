"""Request stages before the graph: decode the body, parse and group the payload."""
