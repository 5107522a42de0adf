/* The happy path of the JSON request in C (handler/native/__init__.py says how it is used).
 *
 * Each function looks at objects orjson built (exact dicts, lists, strs, floats) and either
 * returns the result the Python path would build from them, or None the moment anything is
 * unusual (a wrong type, an unknown or reverse relation, mixed feature keys, a NaN, ...): the
 * caller then runs the Python path, which raises today's error. Never a partial result: on
 * None nothing of the work done is kept. No Python code runs during a call (only exact builtin
 * types are looked at; their lookups and comparisons are C), so the inputs cannot change under it.
 *
 * Plain C API, no numpy headers: compiles on CPython 3.9-3.13.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "arrow_columns.h"
#include "body_hash.h"
#include "feature_rows.h"
#include "json_columns.h"

/* Bumped on any change of a function's arguments or result; handler/native/__init__.py ignores
 * a module whose constant differs (a stale build). */
#define FASTPATH_ABI 9

/* More types than any model has: beyond it the Python path groups the payload. */
#define MAX_GROUPS 256

/* |x| < 2**63: what numpy keeps as a float64 (also false for NaN and +-inf). */
#define INT64_SPAN 9223372036854775808.0

static PyObject *key_node_type, *key_node_id, *key_edge_type, *key_src, *key_dest, *key_features;

/* One type's members, as handler.request.grouping.TypeGroup holds them. */
typedef struct {
    PyObject *name[3];   /* borrowed: the node type, or the relation's three strs (first member's) */
    PyObject *key;       /* owned: the result key (node type str, or relation tuple) */
    PyObject *ids;       /* owned list */
    PyObject *features;  /* owned list */
    PyObject *first;     /* borrowed (held by features): the first member's features dict, or NULL */
} Group;

typedef struct {
    Group items[MAX_GROUPS];
    int count;
} Groups;

static void groups_clear(Groups *groups) {
    for (int i = 0; i < groups->count; i++) {
        Py_XDECREF(groups->items[i].key);
        Py_XDECREF(groups->items[i].ids);
        Py_XDECREF(groups->items[i].features);
    }
    groups->count = 0;
}

/* Two exact strs are equal (PyUnicode_Compare never fails on exact strs). */
static inline int str_eq(PyObject *a, PyObject *b) {
    if (a == b) {
        return 1;
    }
    if (PyUnicode_GET_LENGTH(a) != PyUnicode_GET_LENGTH(b)) {
        return 0;
    }
    return PyUnicode_Compare(a, b) == 0;
}

static inline int nonempty_str(PyObject *value) {
    return value != NULL && PyUnicode_CheckExact(value) && PyUnicode_GET_LENGTH(value) > 0;
}

/* 1: ``feats`` has exactly the keys of ``first`` (both exact dicts); 0: not. */
static int same_keys(PyObject *feats, PyObject *first) {
    Py_ssize_t size = PyDict_GET_SIZE(feats);
    if (size != PyDict_GET_SIZE(first)) {
        return 0;
    }
    /* orjson reuses key objects, so the keys are usually the very same objects in the same order. */
    Py_ssize_t pos_a = 0, pos_b = 0;
    PyObject *key_a, *key_b, *value;
    int identical = 1;
    while (PyDict_Next(feats, &pos_a, &key_a, &value)) {
        if (!PyDict_Next(first, &pos_b, &key_b, &value) || key_a != key_b) {
            identical = 0;
            break;
        }
    }
    if (identical) {
        return 1;
    }
    pos_a = 0;
    while (PyDict_Next(feats, &pos_a, &key_a, &value)) {
        if (!PyUnicode_CheckExact(key_a)) {
            return 0;
        }
        int found = PyDict_Contains(first, key_a);
        if (found != 1) {
            PyErr_Clear();
            return 0;
        }
    }
    return 1;
}

/* Adds a member to its group: 0 on success, -1 for a member the Python path must judge (or an
 * allocation failure). ``feats`` is the member's ``features`` value (NULL: absent). */
static int group_add(Group *group, PyObject *member_id, PyObject *feats) {
    int first_member = PyList_GET_SIZE(group->ids) == 0;
    if (feats == NULL) {
        if (!first_member && group->first != NULL) {
            return -1;
        }
    } else {
        if (!PyDict_CheckExact(feats)) {
            return -1;
        }
        if (first_member) {
            group->first = feats;
        } else if (group->first == NULL || !same_keys(feats, group->first)) {
            return -1;
        }
    }
    if (PyList_Append(group->ids, member_id) < 0) {
        return -1;
    }
    if (feats != NULL) {
        return PyList_Append(group->features, feats);
    }
    PyObject *empty = PyDict_New();
    if (empty == NULL) {
        return -1;
    }
    int rc = PyList_Append(group->features, empty);
    Py_DECREF(empty);
    return rc;
}

static Group *groups_new(Groups *groups, PyObject **name, int parts, PyObject *key) {
    if (groups->count == MAX_GROUPS) {
        return NULL;
    }
    Group *group = &groups->items[groups->count];
    memset(group, 0, sizeof(Group));
    for (int i = 0; i < parts; i++) {
        group->name[i] = name[i];
    }
    group->ids = PyList_New(0);
    group->features = PyList_New(0);
    if (group->ids == NULL || group->features == NULL) {
        Py_XDECREF(group->ids);
        Py_XDECREF(group->features);
        return NULL;
    }
    Py_INCREF(key);
    group->key = key;
    groups->count++;
    return group;
}

/* key -> (ids, features, keys frozenset or None), in order of first appearance; consumes the groups. */
static PyObject *groups_result(Groups *groups) {
    PyObject *result = PyDict_New();
    if (result == NULL) {
        return NULL;
    }
    for (int i = 0; i < groups->count; i++) {
        Group *group = &groups->items[i];
        PyObject *keys = group->first == NULL ? Py_None : PyFrozenSet_New(group->first);
        if (keys == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        if (keys == Py_None) {
            Py_INCREF(keys);
        }
        PyObject *entry = PyTuple_Pack(3, group->ids, group->features, keys);
        Py_DECREF(keys);
        if (entry == NULL || PyDict_SetItem(result, group->key, entry) < 0) {
            Py_XDECREF(entry);
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(entry);
    }
    return result;
}

/* The ``features`` value of a member (NULL: absent); -1 on a lookup error. */
static inline int member_features(PyObject *member, PyObject **feats) {
    *feats = PyDict_GetItemWithError(member, key_features);
    return (*feats == NULL && PyErr_Occurred()) ? -1 : 0;
}

static int contains(PyObject *container, PyObject *key) {
    int found = PySequence_Contains(container, key);
    if (found < 0) {
        PyErr_Clear();
        return 0;
    }
    return found;
}

static Groups *groups_alloc(void) {
    Groups *groups = PyMem_Malloc(sizeof(Groups));
    if (groups != NULL) {
        groups->count = 0;
    }
    return groups;
}

/* The result of a grouping that went through (None if building it failed); frees the groups. */
static PyObject *groups_finish(Groups *groups) {
    PyObject *result = groups_result(groups);
    groups_clear(groups);
    PyMem_Free(groups);
    if (result == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return result;
}

/* None for a grouping given up (the Python path decides); frees the groups. */
static PyObject *groups_abandon(Groups *groups) {
    groups_clear(groups);
    PyMem_Free(groups);
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* ``last`` if its name is ``name`` (``parts`` exact strs), else the group of that name, or NULL. */
static Group *groups_find(Groups *groups, Group *last, PyObject **name, int parts) {
    for (int g = -1; g < groups->count; g++) {
        Group *group = g < 0 ? last : &groups->items[g];
        if (group == NULL) {
            continue;
        }
        int same = 1;
        for (int i = parts - 1; i >= 0 && same; i--) {  /* a relation's name differs mostly in its last parts */
            same = str_eq(group->name[i], name[i]);
        }
        if (same) {
            return group;
        }
    }
    return NULL;
}

PyDoc_STRVAR(group_nodes_doc,
"group_nodes(nodes, known_types) -> dict | None\n\n"
"graph.nodes grouped by node type: node type -> (ids, features, keys), in order of first\n"
"appearance, as grouping.group_nodes' TypeGroups hold them; None unless every node is well formed.");

static PyObject *group_nodes(PyObject *self, PyObject *args) {
    PyObject *nodes, *known;
    if (!PyArg_ParseTuple(args, "OO:group_nodes", &nodes, &known)) {
        return NULL;
    }
    if (!PyList_CheckExact(nodes)) {
        Py_RETURN_NONE;
    }
    Groups *groups = groups_alloc();
    if (groups == NULL) {
        return PyErr_NoMemory();
    }
    Group *last = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(nodes); i++) {
        PyObject *node = PyList_GET_ITEM(nodes, i);
        if (!PyDict_CheckExact(node)) {
            goto fail;
        }
        PyObject *ntype = PyDict_GetItemWithError(node, key_node_type);
        PyObject *node_id = PyDict_GetItemWithError(node, key_node_id);
        PyObject *feats;
        if (!nonempty_str(ntype) || !nonempty_str(node_id) || member_features(node, &feats) < 0) {
            goto fail;
        }
        last = groups_find(groups, last, &ntype, 1);
        if (last == NULL && (!contains(known, ntype) || (last = groups_new(groups, &ntype, 1, ntype)) == NULL)) {
            goto fail;
        }
        if (group_add(last, node_id, feats) < 0) {
            goto fail;
        }
    }
    return groups_finish(groups);
fail:
    return groups_abandon(groups);
}

PyDoc_STRVAR(group_edges_doc,
"group_edges(edges, relations, reverse) -> dict | None\n\n"
"graph.edges grouped by relation: relation tuple -> (ids, features, keys), ids (src, dst) tuples,\n"
"in order of first appearance; None unless every edge is well formed and of a relation in\n"
"``relations`` but not in ``reverse`` (the derived reverse relations a payload may not send).");

static PyObject *group_edges(PyObject *self, PyObject *args) {
    PyObject *edges, *relations, *reverse;
    if (!PyArg_ParseTuple(args, "OOO:group_edges", &edges, &relations, &reverse)) {
        return NULL;
    }
    if (!PyList_CheckExact(edges)) {
        Py_RETURN_NONE;
    }
    Groups *groups = groups_alloc();
    if (groups == NULL) {
        return PyErr_NoMemory();
    }
    Group *last = NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(edges); i++) {
        PyObject *edge = PyList_GET_ITEM(edges, i);
        if (!PyDict_CheckExact(edge)) {
            goto fail;
        }
        PyObject *etype = PyDict_GetItemWithError(edge, key_edge_type);
        PyObject *src = PyDict_GetItemWithError(edge, key_src);
        PyObject *dst = PyDict_GetItemWithError(edge, key_dest);
        PyObject *feats;
        if (etype == NULL || !PyList_CheckExact(etype) || PyList_GET_SIZE(etype) != 3 || !nonempty_str(src)
                || !nonempty_str(dst) || member_features(edge, &feats) < 0) {
            goto fail;
        }
        PyObject **name = PySequence_Fast_ITEMS(etype);
        if (!PyUnicode_CheckExact(name[0]) || !PyUnicode_CheckExact(name[1]) || !PyUnicode_CheckExact(name[2])) {
            goto fail;
        }
        last = groups_find(groups, last, name, 3);
        if (last == NULL) {
            PyObject *relation = PyList_AsTuple(etype);
            if (relation == NULL) {
                goto fail;
            }
            if (contains(relations, relation) && !contains(reverse, relation)) {
                last = groups_new(groups, name, 3, relation);
            }
            Py_DECREF(relation);
            if (last == NULL) {
                goto fail;
            }
        }
        PyObject *member_id = PyTuple_Pack(2, src, dst);
        if (member_id == NULL) {
            goto fail;
        }
        int rc = group_add(last, member_id, feats);
        Py_DECREF(member_id);
        if (rc < 0) {
            goto fail;
        }
    }
    return groups_finish(groups);
fail:
    return groups_abandon(groups);
}

/* One leaf of a number column: an exact float with |x| < 2**63 (numpy's float64; false for NaN
 * and +-inf), or an exact int within int64 (numpy's int64; a bool is not an exact int). */
static inline int plain_leaf(PyObject *value, int integers, char *out) {
    if (integers) {
        if (!PyLong_CheckExact(value)) {
            return 0;
        }
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (number == -1 && PyErr_Occurred())) {
            return 0;
        }
        int64_t exact = (int64_t)number;
        memcpy(out, &exact, sizeof(exact));
        return 1;
    }
    if (!PyFloat_CheckExact(value)) {
        return 0;
    }
    double number = PyFloat_AS_DOUBLE(value);
    memcpy(out, &number, sizeof(number));
    return fabs(number) < INT64_SPAN;
}

PyDoc_STRVAR(number_column_doc,
"number_column(items, name) -> (bytearray, width, integers) | None\n\n"
"The values ``np.array(values)`` makes a float64 (or int64) array of, as its bytes (native byte\n"
"order), its row width (0: one number per row, a 1-D array) and whether they are int64. ``values``\n"
"are ``item[name]`` of each item (exact dicts), or the items themselves when ``name`` is None.\n"
"None unless there is a row and every value is a number, or every value an exact list of one\n"
"width > 0 of numbers, the numbers all exact floats with |x| < 2**63 (not NaN or infinite) or\n"
"all exact ints within int64.");

static PyObject *number_column(PyObject *self, PyObject *args) {
    PyObject *items, *name;
    if (!PyArg_ParseTuple(args, "OO:number_column", &items, &name)) {
        return NULL;
    }
    if (!PyList_CheckExact(items) || (name != Py_None && !PyUnicode_CheckExact(name))) {
        Py_RETURN_NONE;
    }
    Py_ssize_t rows = PyList_GET_SIZE(items);
    if (rows == 0) {
        Py_RETURN_NONE;
    }
    PyObject *first = PyList_GET_ITEM(items, 0);
    if (name != Py_None) {
        if (!PyDict_CheckExact(first) || (first = PyDict_GetItemWithError(first, name)) == NULL) {
            PyErr_Clear();
            Py_RETURN_NONE;
        }
    }
    Py_ssize_t width = 0;
    if (PyList_CheckExact(first)) {
        width = PyList_GET_SIZE(first);
        if (width == 0) {
            Py_RETURN_NONE;
        }
        first = PyList_GET_ITEM(first, 0);
    }
    int integers;
    if (PyFloat_CheckExact(first)) {
        integers = 0;
    } else if (PyLong_CheckExact(first)) {
        integers = 1;
    } else {
        Py_RETURN_NONE;
    }
    Py_ssize_t per_row = width == 0 ? 1 : width;
    if (rows > PY_SSIZE_T_MAX / 8 / per_row) {
        Py_RETURN_NONE;
    }
    PyObject *buffer = PyByteArray_FromStringAndSize(NULL, rows * per_row * 8);
    if (buffer == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    char *out = PyByteArray_AS_STRING(buffer);
    for (Py_ssize_t row = 0; row < PyList_GET_SIZE(items) && row < rows; row++) {
        PyObject *value = PyList_GET_ITEM(items, row);
        if (name != Py_None) {
            if (!PyDict_CheckExact(value) || (value = PyDict_GetItemWithError(value, name)) == NULL) {
                goto fail;
            }
        }
        if (width == 0) {
            if (!plain_leaf(value, integers, out)) {
                goto fail;
            }
            out += 8;
            continue;
        }
        if (!PyList_CheckExact(value) || PyList_GET_SIZE(value) != width) {
            goto fail;
        }
        PyObject **leaves = PySequence_Fast_ITEMS(value);
        for (Py_ssize_t col = 0; col < width; col++) {
            if (!plain_leaf(leaves[col], integers, out)) {
                goto fail;
            }
            out += 8;
        }
    }
    PyObject *result = Py_BuildValue("(On" "O)", buffer, width, integers ? Py_True : Py_False);
    Py_DECREF(buffer);
    if (result == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return result;
fail:
    Py_DECREF(buffer);
    PyErr_Clear();
    Py_RETURN_NONE;
}

/* The local index ``map[key]`` of an exact str endpoint, into ``out``: 1, or 0 when the key is
 * not an exact str or is absent, or its index is not an exact int within int64. */
static inline int local_index(PyObject *map, PyObject *key, int64_t *out) {
    if (!PyUnicode_CheckExact(key)) {
        return 0;
    }
    PyObject *index = PyDict_GetItemWithError(map, key);
    if (index == NULL || !PyLong_CheckExact(index)) {
        return 0;
    }
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(index, &overflow);
    if (overflow || (number == -1 && PyErr_Occurred())) {
        return 0;
    }
    *out = (int64_t)number;
    return 1;
}

PyDoc_STRVAR(edge_index_doc,
"edge_index(ids, src_map, dst_map) -> (bytearray, bytearray) | None\n\n"
"A relation's edges as local node indices: the int64 values (native byte order) of\n"
"``src_map[src]`` and ``dst_map[dst]`` for each ``(src, dst)`` of ``ids``, in order. None unless\n"
"``ids`` is an exact list of exact 2-tuples of exact strs, the maps are exact dicts, every\n"
"endpoint is in its map and every index is an exact int within int64.");

static PyObject *edge_index(PyObject *self, PyObject *args) {
    PyObject *ids, *src_map, *dst_map;
    if (!PyArg_ParseTuple(args, "OOO:edge_index", &ids, &src_map, &dst_map)) {
        return NULL;
    }
    if (!PyList_CheckExact(ids) || !PyDict_CheckExact(src_map) || !PyDict_CheckExact(dst_map)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t count = PyList_GET_SIZE(ids);
    if (count > PY_SSIZE_T_MAX / 8) {
        Py_RETURN_NONE;
    }
    PyObject *src = PyByteArray_FromStringAndSize(NULL, count * 8);
    PyObject *dst = PyByteArray_FromStringAndSize(NULL, count * 8);
    if (src == NULL || dst == NULL) {
        goto fail;
    }
    int64_t *src_out = (int64_t *)PyByteArray_AS_STRING(src), *dst_out = (int64_t *)PyByteArray_AS_STRING(dst);
    /* The list's size is read again each step: nothing here can change it, but nothing relies on that. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(ids) && i < count; i++) {
        PyObject *edge = PyList_GET_ITEM(ids, i);
        if (!PyTuple_CheckExact(edge) || PyTuple_GET_SIZE(edge) != 2
                || !local_index(src_map, PyTuple_GET_ITEM(edge, 0), &src_out[i])
                || !local_index(dst_map, PyTuple_GET_ITEM(edge, 1), &dst_out[i])) {
            goto fail;
        }
    }
    if (PyList_GET_SIZE(ids) != count) {
        goto fail;
    }
    PyObject *result = PyTuple_Pack(2, src, dst);
    Py_DECREF(src);
    Py_DECREF(dst);
    if (result == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    return result;
fail:
    Py_XDECREF(src);
    Py_XDECREF(dst);
    PyErr_Clear();
    Py_RETURN_NONE;
}

PyDoc_STRVAR(index_ids_doc,
"index_ids(ids) -> dict | None\n\n"
"``dict(zip(ids, range(len(ids))))``: node id -> its local index, the dict made at its final size\n"
"at once; None unless ``ids`` is an exact list of exact strs, none listed twice.");

static PyObject *index_ids(PyObject *self, PyObject *args) {
    PyObject *ids;
    if (!PyArg_ParseTuple(args, "O:index_ids", &ids)) {
        return NULL;
    }
    if (!PyList_CheckExact(ids)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t count = PyList_GET_SIZE(ids);
    /* Sized once: dict(zip) grows the table about log2(count) times, re-inserting every key each
     * time. _PyDict_NewPresized is private API, exported by CPython 3.9-3.13 (Cython uses it); a
     * later CPython gets a growing dict rather than a build failure that would lose the module. */
#if PY_VERSION_HEX < 0x030E0000
    PyObject *index = _PyDict_NewPresized(count);
#else
    PyObject *index = PyDict_New();
#endif
    if (index == NULL) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    for (Py_ssize_t i = 0; i < count && i < PyList_GET_SIZE(ids); i++) {
        PyObject *node_id = PyList_GET_ITEM(ids, i);
        if (!PyUnicode_CheckExact(node_id)) {
            goto fail;
        }
        PyObject *local = PyLong_FromSsize_t(i);
        if (local == NULL) {
            goto fail;
        }
        int rc = PyDict_SetItem(index, node_id, local);
        Py_DECREF(local);
        if (rc < 0) {
            goto fail;
        }
    }
    if (PyDict_GET_SIZE(index) != count || PyList_GET_SIZE(ids) != count) {
        goto fail;  /* a node listed twice: the Python path names it */
    }
    return index;
fail:
    Py_DECREF(index);
    PyErr_Clear();
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"group_nodes", group_nodes, METH_VARARGS, group_nodes_doc},
    {"group_edges", group_edges, METH_VARARGS, group_edges_doc},
    {"number_column", number_column, METH_VARARGS, number_column_doc},
    {"edge_index", edge_index, METH_VARARGS, edge_index_doc},
    {"index_ids", index_ids, METH_VARARGS, index_ids_doc},
    {"json_columns", json_columns, METH_VARARGS,
     "json_columns(body) -> (fields, targets, node groups, edge groups) | None: a well-formed JSON "
     "request body as typed columns (json_columns.c)."},
    {"arrow_columns", arrow_columns, METH_VARARGS,
     "arrow_columns(body) -> (fields, targets, node groups, edge groups) | None: an Arrow request body "
     "(gs-realtime-arrow-v2) as the columns json_columns gives (arrow_columns.c)."},
    {"feature_rows", feature_rows, METH_VARARGS,
     "feature_rows(out, ops) -> bool: feature columns transformed into the float32 rows `out` "
     "(feature_rows.c); False: declined."},
    {"sha256_start", sha256_start, METH_VARARGS,
     "sha256_start(body) -> Sha256Job | None: the body's SHA-256, started on the helper thread "
     "(body_hash.c); None: no libcrypto SHA256 in the process, or not exact bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastpath",
    "The JSON request's happy path in C (handler/native/__init__.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastpath(void) {
    const char *names[] = {"node_type", "node_id", "edge_type", "src_node_id", "dest_node_id", "features"};
    PyObject **slots[] = {&key_node_type, &key_node_id, &key_edge_type, &key_src, &key_dest, &key_features};
    for (int i = 0; i < 6; i++) {
        if (*slots[i] == NULL && (*slots[i] = PyUnicode_InternFromString(names[i])) == NULL) {
            return NULL;
        }
    }
    PyObject *mod = PyModule_Create(&module);
    if (mod == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(mod, "ABI", FASTPATH_ABI) < 0 || body_hash_init(mod) < 0) {
        Py_DECREF(mod);
        return NULL;
    }
    return mod;
}
