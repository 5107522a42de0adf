"""``python -m handler.graph_store load|payload ...``: gs-load-graph and gs-build-payload without
the console scripts (e.g. before the project is reinstalled)."""

from __future__ import annotations

import sys

from handler.graph_store.cli import build_payload_main, load_main

COMMANDS = {"load": load_main, "payload": build_payload_main}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print("usage: python -m handler.graph_store load|payload [options]  (--help for each)", file=sys.stderr)
        sys.exit(2)
    sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
