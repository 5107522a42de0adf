/* json_columns.c: a JSON request body straight to typed columns (registered by _fastpath.c). */
#ifndef GS_JSON_COLUMNS_H
#define GS_JSON_COLUMNS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* json_columns(body: bytes) -> (fields, targets, node_groups, edge_groups) | None */
PyObject *json_columns(PyObject *self, PyObject *args);

#endif
