# Types of the C extension handler/native/_fastpath.c (see its docstrings).
from typing import Any

ABI: int

def group_nodes(nodes: Any, known_types: Any) -> dict[str, tuple[list[Any], list[dict[str, Any]],
                                                                frozenset[str] | None]] | None: ...
def group_edges(edges: Any, relations: Any, reverse: Any) -> dict[tuple[str, str, str], tuple[
    list[tuple[str, str]], list[dict[str, Any]], frozenset[str] | None]] | None: ...
def number_column(items: Any, name: str | None) -> tuple[bytearray, int, bool] | None: ...
def json_columns(body: bytes) -> tuple[dict[str, Any], Any, list[tuple[str, list[str], list[tuple[str, Any]] | None]],
                                       list[tuple[tuple[str, str, str], list[str], list[str],
                                                  list[tuple[str, Any]] | None,
                                                  tuple[bytearray, bytearray] | None]]] | None: ...
def arrow_columns(body: bytes) -> tuple[dict[str, Any], list[Any],
                                        list[tuple[str, list[str], list[tuple[str, Any]] | None]],
                                        list[tuple[tuple[str, str, str], list[str], list[str],
                                                   list[tuple[str, Any]] | None,
                                                   tuple[bytearray, bytearray]]]] | None: ...
def feature_rows(out: Any, ops: list[tuple[int, Any, int, int, Any]]) -> bool: ...
