/* feature_rows: a node type's (or relation's) feature columns transformed straight into the
 * model's float32 input rows, one call for all its features (handler/native/__init__.py:
 * feature_rows; handler/inputs/feature_rows.py plans the calls).
 *
 * The transforms of handler/transforms that are arithmetic per value, written out as numpy
 * computes them (the same IEEE double operations in the same order, then one cast to float32,
 * so every output bit is the Python transform's):
 *   ROWS_NUMBERS   no-op: the float64 / int64 values as float32
 *   ROWS_SCALE     max_min_norm with configured bounds: ((double)x - min) / range in [0, 1]
 *   ROWS_BUCKETS   bucket_numerical: numpy's floor division of the window's ends by the size
 *   ROWS_CATEGORY  to_categorical: each str's column of the mapping set to 1
 * It declines (returns False, having written part of the rows, which the caller drops) the
 * moment a value is one the Python transform refuses or treats in a way not written out here:
 * a value non-finite (or beyond float32 for no-op), an unknown category, an int64 beyond 2**53
 * for buckets, a column of another dtype, width or length. The caller then runs the Python
 * transforms, which raise their errors or answer. Nothing here decides an error.
 *
 * No numpy headers: arrays are read through the buffer protocol.
 */
#include "feature_rows.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

enum { ROWS_NUMBERS = 0, ROWS_SCALE = 1, ROWS_BUCKETS = 2, ROWS_CATEGORY = 3 };

/* Integers within it convert to double exactly (the buckets compare them as doubles). */
#define EXACT_INT 9007199254740992.0

/* A numeric column: float64 or int64 values, [rows] or [rows, width], C-contiguous. */
typedef struct {
    Py_buffer view;
    int integers;
    Py_ssize_t width;  /* values per row (1 for [rows]) */
} Column;

static int column_open(PyObject *obj, Py_ssize_t rows, Column *col) {
    if (PyObject_GetBuffer(obj, &col->view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) {
        PyErr_Clear();
        return 0;
    }
    const char *format = col->view.format;
    if (format != NULL && (format[0] == '<' || format[0] == '=' || format[0] == '@')) {
        format++;
    }
    int ok = col->view.itemsize == 8 && format != NULL && format[1] == '\0'
             && (format[0] == 'd' || format[0] == 'l' || format[0] == 'q')
             && (col->view.ndim == 1 || col->view.ndim == 2) && col->view.shape[0] == rows;
    if (!ok) {
        PyBuffer_Release(&col->view);
        return 0;
    }
    col->integers = format[0] != 'd';
    col->width = col->view.ndim == 2 ? col->view.shape[1] : 1;
    return 1;
}

static inline double column_value(const Column *col, Py_ssize_t i) {
    return col->integers ? (double)((const int64_t *)col->view.buf)[i] : ((const double *)col->view.buf)[i];
}

/* numpy's minimum / maximum of two non-NaN doubles. On a tie (only +-0.0 differ) the first:
 * callers either compare the result (the zero's sign is lost) or decline -0.0. */
static inline double np_minimum(double a, double b) { return a <= b ? a : b; }
static inline double np_maximum(double a, double b) { return a >= b ? a : b; }

/* numpy's floor_divide of two doubles, b != 0 (npy_divmod of npymath). */
static double np_floor_divide(double a, double b) {
    double mod = fmod(a, b);
    double div = (a - mod) / b;
    if (mod) {
        if ((b < 0) != (mod < 0)) {
            div -= 1.0;
        }
    }
    double floordiv;
    if (div) {
        floordiv = floor(div);
        if (div - floordiv > 0.5) {
            floordiv += 1.0;
        }
    }
    else {
        floordiv = copysign(0, a / b);
    }
    return floordiv;
}

/* dst: the op's first output column of row 0 (NULL: checked only, written nowhere). */
static int numbers(const Column *col, Py_ssize_t rows, Py_ssize_t width, float *dst, Py_ssize_t stride) {
    if (col->width != width) {
        return 0;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        for (Py_ssize_t c = 0; c < width; c++) {
            float value;
            if (col->integers) {
                value = (float)((const int64_t *)col->view.buf)[r * width + c];
            }
            else {
                value = (float)((const double *)col->view.buf)[r * width + c];
            }
            if (!isfinite(value)) {
                return 0;
            }
            if (dst != NULL) {
                dst[r * stride + c] = value;
            }
        }
    }
    return 1;
}

/* Reads a tuple of floats of length 1 or width into values[width] (broadcast). */
static int float_tuple(PyObject *tuple, Py_ssize_t width, double *values) {
    if (!PyTuple_CheckExact(tuple)) {
        return 0;
    }
    Py_ssize_t size = PyTuple_GET_SIZE(tuple);
    if (size != 1 && size != width) {
        return 0;
    }
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *item = PyTuple_GET_ITEM(tuple, size == 1 ? 0 : c);
        if (!PyFloat_CheckExact(item)) {
            return 0;
        }
        values[c] = PyFloat_AS_DOUBLE(item);
    }
    return 1;
}

#define MAX_SCALE_WIDTH 4096

static int scale(const Column *col, Py_ssize_t rows, Py_ssize_t width, PyObject *params, float *dst,
                 Py_ssize_t stride) {
    double mins[MAX_SCALE_WIDTH], ranges[MAX_SCALE_WIDTH];
    if (col->width != width || width > MAX_SCALE_WIDTH || !PyTuple_CheckExact(params) || PyTuple_GET_SIZE(params) != 2
        || (col->view.ndim == 1 && width != 1)) {
        return 0;
    }
    PyObject *min_tuple = PyTuple_GET_ITEM(params, 0), *range_tuple = PyTuple_GET_ITEM(params, 1);
    if (!float_tuple(min_tuple, width, mins) || !float_tuple(range_tuple, width, ranges)) {
        return 0;
    }
    /* numpy broadcasts [rows] against a one-element bound only. */
    if (col->view.ndim == 1 && (PyTuple_GET_SIZE(min_tuple) != 1 || PyTuple_GET_SIZE(range_tuple) != 1)) {
        return 0;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        for (Py_ssize_t c = 0; c < width; c++) {
            double x = column_value(col, r * width + c);
            if (!isfinite(x)) {
                return 0;
            }
            double v = (x - mins[c]) / ranges[c];
            /* -0.0: which zero numpy's maximum(-0.0, 0) gives depends on its SIMD kernels. */
            if (isnan(v) || (v == 0.0 && signbit(v))) {
                return 0;
            }
            v = np_maximum(np_minimum(v, 1.0), 0.0);
            if (dst != NULL) {
                dst[r * stride + c] = (float)v;
            }
        }
    }
    return 1;
}

static int buckets(const Column *col, Py_ssize_t rows, Py_ssize_t width, PyObject *params, float *dst,
                   Py_ssize_t stride) {
    double min_val, max_val, half_window, size;
    if (col->width != 1 || !PyTuple_CheckExact(params)
        || !PyArg_ParseTuple(params, "dddd", &min_val, &max_val, &half_window, &size)) {
        PyErr_Clear();
        return 0;
    }
    if (!(size > 0) || !isfinite(size) || !isfinite(half_window) || !(fabs(min_val) <= EXACT_INT)
        || !(fabs(max_val) <= EXACT_INT)) {
        return 0;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        double x = column_value(col, r);
        if (!isfinite(x) || (col->integers && !(fabs(x) <= EXACT_INT))) {
            return 0;
        }
        double high = np_minimum(x + half_window, max_val) - min_val;
        double low = np_maximum(x - half_window, min_val) - min_val;
        double first = np_floor_divide(low, size);
        double end = np_floor_divide(high, size) + 1.0;
        if (dst == NULL) {
            continue;
        }
        float *row = dst + r * stride;
        for (Py_ssize_t c = 0; c < width; c++) {
            row[c] = ((double)c >= first && (double)c < end) ? 1.0f : 0.0f;
        }
        if (x >= max_val) {
            row[width - 1] = 1.0f;
        }
        if (x <= min_val) {
            row[0] = 1.0f;
        }
    }
    return 1;
}

static int category(PyObject *values, Py_ssize_t rows, Py_ssize_t width, PyObject *mapping, float *dst,
                    Py_ssize_t stride) {
    if (!PyList_CheckExact(values) || PyList_GET_SIZE(values) != rows || !PyDict_CheckExact(mapping)) {
        return 0;
    }
    for (Py_ssize_t r = 0; r < rows; r++) {
        PyObject *value = PyList_GET_ITEM(values, r);
        if (!PyUnicode_CheckExact(value)) {
            return 0;
        }
        PyObject *found = PyDict_GetItemWithError(mapping, value);  /* borrowed */
        if (found == NULL || !PyLong_CheckExact(found)) {
            PyErr_Clear();
            return 0;
        }
        long col = PyLong_AsLong(found);
        if (col < 0 || col >= width) {
            PyErr_Clear();
            return 0;
        }
        if (dst != NULL) {
            float *row = dst + r * stride;
            memset(row, 0, (size_t)width * sizeof(float));
            row[col] = 1.0f;
        }
    }
    return 1;
}

/* One op: (kind, column, offset, width, params); offset < 0: checked only. */
static int run_op(PyObject *op, float *out, Py_ssize_t rows, Py_ssize_t out_width) {
    if (!PyTuple_CheckExact(op) || PyTuple_GET_SIZE(op) != 5) {
        return 0;
    }
    long kind = PyLong_AsLong(PyTuple_GET_ITEM(op, 0));
    Py_ssize_t offset = PyLong_AsSsize_t(PyTuple_GET_ITEM(op, 2));
    Py_ssize_t width = PyLong_AsSsize_t(PyTuple_GET_ITEM(op, 3));
    if (PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (width <= 0 || (offset >= 0 && offset + width > out_width)) {
        return 0;
    }
    float *dst = offset >= 0 ? out + offset : NULL;
    PyObject *values = PyTuple_GET_ITEM(op, 1), *params = PyTuple_GET_ITEM(op, 4);
    if (kind == ROWS_CATEGORY) {
        return category(values, rows, width, params, dst, out_width);
    }
    Column col;
    if (!column_open(values, rows, &col)) {
        return 0;
    }
    int ok = 0;
    if (kind == ROWS_NUMBERS) {
        ok = numbers(&col, rows, width, dst, out_width);
    }
    else if (kind == ROWS_SCALE) {
        ok = scale(&col, rows, width, params, dst, out_width);
    }
    else if (kind == ROWS_BUCKETS) {
        ok = buckets(&col, rows, width, params, dst, out_width);
    }
    PyBuffer_Release(&col.view);
    return ok;
}

PyObject *feature_rows(PyObject *self, PyObject *args) {
    PyObject *out_obj, *ops;
    if (!PyArg_ParseTuple(args, "OO", &out_obj, &ops)) {
        return NULL;
    }
    if (!PyList_CheckExact(ops)) {
        Py_RETURN_FALSE;
    }
    Py_buffer out;
    if (PyObject_GetBuffer(out_obj, &out, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT | PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        Py_RETURN_FALSE;
    }
    int ok = out.itemsize == 4 && out.format != NULL && strcmp(out.format, "f") == 0 && out.ndim == 2;
    for (Py_ssize_t i = 0; ok && i < PyList_GET_SIZE(ops); i++) {
        ok = run_op(PyList_GET_ITEM(ops, i), (float *)out.buf, out.shape[0], out.shape[1]);
    }
    PyBuffer_Release(&out);
    if (ok) {
        Py_RETURN_TRUE;
    }
    Py_RETURN_FALSE;
}
