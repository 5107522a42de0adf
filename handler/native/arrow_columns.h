/* arrow_columns.c: an Arrow request body straight to the columns json_columns gives (registered
 * by _fastpath.c). */
#ifndef GS_ARROW_COLUMNS_H
#define GS_ARROW_COLUMNS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* arrow_columns(body: bytes) -> (fields, targets, node_groups, edge_groups) | None */
PyObject *arrow_columns(PyObject *self, PyObject *args);

#endif
