/* json_columns.c: a JSON request body straight to typed columns (registered by _fastpath.c);
 * its reading of a request object's fields is shared with arrow_columns.c. */
#ifndef GS_JSON_COLUMNS_H
#define GS_JSON_COLUMNS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include "vendor/yyjson.h"

/* Walk results: OK; DECLINE (not a well-formed request: return None); FAILED (a Python error is set). */
enum { OK = 0, DECLINE = 1, FAILED = 2 };

/* json_columns(body: bytes) -> (fields, targets, node_groups, edge_groups) | None */
PyObject *json_columns(PyObject *self, PyObject *args);

/* A yyjson string value as a new str in ``*out``: DECLINE when Python refuses it (a lone surrogate
 * escape), FAILED with the Python error for anything else. */
int str_object(yyjson_val *value, PyObject **out);

/* A request object's top-level fields other than "graph" and "targets" into the dict ``fields``
 * and its "targets" as a new reference in ``*targets`` (``*targets`` NULL on entry), each value
 * as orjson gives it; ``*graph``: the "graph" value (borrowed), NULL when there is none.
 * DECLINE: not an object, no "targets", a key twice, a value json_columns declines. */
int json_request_fields(yyjson_val *root, PyObject *fields, PyObject **targets, yyjson_val **graph);

#endif
