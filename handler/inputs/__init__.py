"""Model inputs from a parsed request: graph building, feature transforms applied, edge-target rules."""
