/* feature_rows.c: feature columns to the model's input rows (registered by _fastpath.c). */
#ifndef GS_FEATURE_ROWS_H
#define GS_FEATURE_ROWS_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* feature_rows(out: float32 [rows, width], ops: list of (kind, column, offset, width, params)) -> bool */
PyObject *feature_rows(PyObject *self, PyObject *args);

#endif
