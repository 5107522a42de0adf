"""Subgraph extraction from a graph store (issue 20): torch-free, imports only ``handler.contract``.

``loader`` (gs-load-graph) writes an embedded Ladybug store from GConstruct's input tables;
``extract`` reads a target's sampled in-neighbourhood through a ``runner.QueryRunner``;
``payload`` turns it into a ``gs-realtime-v0.1`` document; ``cli`` is gs-build-payload.
"""
