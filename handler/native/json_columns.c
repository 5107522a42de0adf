/* A JSON request body straight to typed columns (handler/native/__init__.py: json_columns).
 *
 * yyjson (vendor/, a strict RFC 8259 reader) parses the bytes; this file walks its document once
 * and, for a well-formed gs-realtime-v0.1 request only, returns the request as columns: per node
 * type and per relation the member ids (strs or ints; an edge endpoint that names a payload node
 * is that node's id object, and a relation whose every endpoint does carries their local
 * indices) and every feature as one column (the float64 or int64 values in a bytearray, or the
 * strs of a text feature in a 1-tuple), plus the other top-level fields and the targets as the
 * Python values orjson gives. No Python object is made per feature value.
 *
 * A feature column whose values are not all one kind of number (or of number list of one
 * length), or all strs, holds every member's value as the Python value orjson gives (a null, a
 * bool, a list of strs, mixed ints and floats, ...): what the JSON path's columns hold then.
 *
 * Anything unusual returns None and the caller reads the body with orjson as before (the JSON
 * path, which decides every error): a body yyjson refuses, a top-level field twice, no "graph"
 * or no "targets", a member key other than the ones below, a type that is not a str, an id that
 * is neither a str nor an integer, an empty id, a node id twice in its type, a member whose
 * feature keys differ from its type's first member's (also their order), a str that is not
 * valid UTF-8 for Python (a lone surrogate escape), an object key twice, nesting deeper than
 * MAX_DEPTH in a value, more than MAX_FEATURES feature keys, ids that collide in the id table
 * past MAX_PROBES. Never a partial result: on None nothing of the work done is kept.
 *
 * Plain C API, no numpy headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "json_columns.h"
#include "vendor/yyjson.h"

/* More types than any model has: beyond it the JSON path reads the payload. */
#define MAX_GROUPS 256
/* More features per type than a model has (a first member's keys are checked pairwise). */
#define MAX_FEATURES 1024
/* Probes of the id table beyond which ids collide too much to be a real payload's (crafted
 * ids): the JSON path, whose dicts hash with a per-process key, reads the payload. */
#define MAX_PROBES 64
/* Deeper envelope fields or targets than a request has: the JSON path reads them. */
#define MAX_DEPTH 64
/* |x| < 2**63: the floats the JSON path's number columns take (handler.native.number_column). */
#define INT64_SPAN 9223372036854775808.0

/* A column's values: float64s or int64s (``values``), strs or any JSON values (``objects``). */
enum { KIND_UNSET = 0, KIND_FLOAT, KIND_INT, KIND_STR, KIND_OBJECT };

/* One feature of one type: every member's value, in member order. */
typedef struct {
    yyjson_val *name;      /* the first member's key (a string value of the document) */
    int kind;
    Py_ssize_t width;      /* -1: unset; 0: scalars; > 0: lists of this length */
    uint64_t *values;      /* KIND_FLOAT / KIND_INT: the doubles' or int64s' bits, row-major */
    Py_ssize_t count, capacity;
    PyObject *objects;     /* KIND_STR: list of str; KIND_OBJECT: list of JSON values */
} Column;

/* An id's kind: a string, or an integer (non-negative: uint; negative: sint). */
enum { ID_NONE = 0, ID_STR, ID_UINT, ID_SINT };

/* A node type's ids -> the id's Python object (borrowed from the group's ids) and position. */
typedef struct {
    int kind;          /* ID_NONE: an empty slot */
    const char *key;   /* ID_STR: the id's bytes */
    size_t len;        /* ID_STR: their length; an integer: its bits */
    PyObject *value;
    Py_ssize_t index;  /* the node's position in its type's ids (its local index) */
} IdSlot;

typedef struct {
    IdSlot *slots;   /* open addressing */
    size_t mask;     /* capacity - 1 (a power of two) */
    size_t count;
} IdTable;

/* One node type or relation. */
typedef struct Group {
    yyjson_val *name[3];   /* the type (string values of the document): 1 part, or 3 for a relation */
    PyObject *ids;         /* list of str: node ids, or edge sources */
    PyObject *dst_ids;     /* edges: list of str */
    IdTable table;         /* node types: their ids, so that an edge's endpoint is the node's str */
    struct Group *ends[2]; /* relations: the node groups of the source and destination types, or NULL */
    Column local[2];       /* relations: the endpoints' local indices (int64), while ``indexed`` */
    int indexed;           /* relations: every endpoint so far is a node of the payload */
    int has_features;      /* the members carry a "features" object */
    Column *columns;
    Py_ssize_t num_columns;
} Group;

typedef struct {
    Group items[MAX_GROUPS];
    int count;
} Groups;

static void groups_clear(Groups *groups) {
    for (int g = 0; g < groups->count; g++) {
        Group *group = &groups->items[g];
        Py_XDECREF(group->ids);
        Py_XDECREF(group->dst_ids);
        for (Py_ssize_t c = 0; c < group->num_columns; c++) {
            PyMem_Free(group->columns[c].values);
            Py_XDECREF(group->columns[c].objects);
        }
        PyMem_Free(group->columns);
        PyMem_Free(group->table.slots);
        PyMem_Free(group->local[0].values);
        PyMem_Free(group->local[1].values);
    }
    groups->count = 0;
}

/* An id value's key (kind ID_NONE: not an id the table holds: a float, a bool, ...). */
static inline IdSlot id_key(yyjson_val *id) {
    IdSlot key = {ID_NONE, NULL, 0, NULL, 0};
    if (yyjson_is_str(id)) {
        key.kind = ID_STR;
        key.key = yyjson_get_str(id);
        key.len = yyjson_get_len(id);
    } else if (yyjson_is_uint(id)) {
        key.kind = ID_UINT;
        key.len = (size_t)yyjson_get_uint(id);
    } else if (yyjson_is_sint(id)) {
        key.kind = ID_SINT;
        key.len = (size_t)yyjson_get_sint(id);
    }
    return key;
}

static inline size_t id_hash(const IdSlot *key) {
    uint64_t hash = 14695981039346656037ULL;  /* FNV-1a */
    if (key->kind == ID_STR) {
        for (size_t i = 0; i < key->len; i++) {
            hash = (hash ^ (unsigned char)key->key[i]) * 1099511628211ULL;
        }
    } else {
        hash = ((uint64_t)key->len ^ (uint64_t)key->kind) * 0x9E3779B97F4A7C15ULL;
    }
    return (size_t)(hash ^ (hash >> 29));
}

/* The slot of ``key``: its own, or the empty one where it would go; NULL past MAX_PROBES. */
static inline IdSlot *id_slot(IdTable *table, const IdSlot *key) {
    size_t at = id_hash(key) & table->mask;
    for (int probe = 0; probe < MAX_PROBES; probe++) {
        IdSlot *slot = &table->slots[at];
        if (slot->kind == ID_NONE || (slot->kind == key->kind && slot->len == key->len &&
                                      (key->kind != ID_STR || memcmp(slot->key, key->key, key->len) == 0))) {
            return slot;
        }
        at = (at + 1) & table->mask;
    }
    return NULL;
}

/* Adds a node id (DECLINE: the type lists it twice, which the JSON path reports). */
static int id_add(IdTable *table, yyjson_val *id, PyObject *value, Py_ssize_t index) {
    if (2 * (table->count + 1) > table->mask) {
        size_t capacity = table->slots == NULL ? 64 : 2 * (table->mask + 1);
        IdSlot *old = table->slots;
        size_t old_capacity = old == NULL ? 0 : table->mask + 1;
        table->slots = PyMem_Calloc(capacity, sizeof(IdSlot));
        if (table->slots == NULL) {
            table->slots = old;
            PyErr_NoMemory();
            return FAILED;
        }
        table->mask = capacity - 1;
        int placed = 1;
        for (size_t i = 0; i < old_capacity && placed; i++) {
            IdSlot *slot = old[i].kind == ID_NONE ? NULL : id_slot(table, &old[i]);
            if (slot != NULL) {
                *slot = old[i];
            }
            placed = old[i].kind == ID_NONE || slot != NULL;
        }
        PyMem_Free(old);
        if (!placed) {
            return DECLINE;
        }
    }
    IdSlot key = id_key(id);
    IdSlot *slot = id_slot(table, &key);
    if (slot == NULL || slot->kind != ID_NONE) {
        return DECLINE;
    }
    *slot = key;
    slot->value = value;
    slot->index = index;
    table->count++;
    return OK;
}

static inline int same_string(yyjson_val *a, yyjson_val *b) {
    size_t len = yyjson_get_len(a);
    return len == yyjson_get_len(b) && memcmp(yyjson_get_str(a), yyjson_get_str(b), len) == 0;
}

/* A str of a string value (NULL with a Python error when it is not valid UTF-8 for Python). */
static inline PyObject *to_str(yyjson_val *value) {
    return PyUnicode_DecodeUTF8(yyjson_get_str(value), (Py_ssize_t)yyjson_get_len(value), "strict");
}

/* A string value as a new str in ``out``: DECLINE when it is not valid UTF-8 for Python (a lone
 * surrogate: the JSON path decides). json_columns.h. */
int str_object(yyjson_val *value, PyObject **out) {
    *out = to_str(value);
    if (*out != NULL) {
        return OK;
    }
    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        return FAILED;
    }
    PyErr_Clear();
    return DECLINE;
}

/* An integer value (uint or sint) as a new int (NULL with a Python error). */
static inline PyObject *int_object(yyjson_val *value) {
    return yyjson_is_uint(value) ? PyLong_FromUnsignedLongLong(yyjson_get_uint(value))
                                 : PyLong_FromLongLong(yyjson_get_sint(value));
}

/* Appends a new reference (NULL: the error that made it) and drops it. */
static int append_new(PyObject *list, PyObject *item) {
    if (item == NULL) {
        return FAILED;
    }
    int failed = PyList_Append(list, item);
    Py_DECREF(item);
    return failed ? FAILED : OK;
}

/* A string value as a new str; DECLINE for a non-string or a str Python refuses. */
static int append_str(PyObject *list, yyjson_val *value) {
    PyObject *text;
    int status = yyjson_is_str(value) ? str_object(value, &text) : DECLINE;
    return status == OK ? append_new(list, text) : status;
}

/* An id: a non-empty string value as a new str (an empty id is the JSON path's 402), or an
 * integer as an int (a float or any other value: DECLINE). */
static inline int append_id(PyObject *list, yyjson_val *value) {
    if (yyjson_is_str(value)) {
        return yyjson_get_len(value) == 0 ? DECLINE : append_str(list, value);
    }
    return yyjson_is_int(value) ? append_new(list, int_object(value)) : DECLINE;
}

static int to_python(yyjson_val *value, int depth, PyObject **out);

/* ``dict[key] = value``, both converted, for a key not there yet (a key twice: DECLINE, the JSON
 * path's parser decides which value counts). */
static int add_field(PyObject *dict, yyjson_val *key, yyjson_val *value, int depth) {
    PyObject *name, *converted;
    int status = str_object(key, &name);
    if (status != OK) {
        return status;
    }
    status = to_python(value, depth, &converted);
    if (status == OK) {
        int seen = PyDict_Contains(dict, name);
        status = seen < 0 ? FAILED : seen ? DECLINE : PyDict_SetItem(dict, name, converted) < 0 ? FAILED : OK;
        Py_DECREF(converted);
    }
    Py_DECREF(name);
    return status;
}

/* Any JSON value as the Python value orjson gives (top-level fields, targets). */
static int to_python(yyjson_val *value, int depth, PyObject **out) {
    *out = NULL;
    if (depth > MAX_DEPTH) {
        return DECLINE;
    }
    switch (yyjson_get_type(value)) {
    case YYJSON_TYPE_NULL:
        Py_INCREF(Py_None);
        *out = Py_None;
        return OK;
    case YYJSON_TYPE_BOOL:
        *out = PyBool_FromLong(yyjson_get_bool(value));
        return OK;
    case YYJSON_TYPE_NUM:
        *out = yyjson_is_real(value) ? PyFloat_FromDouble(yyjson_get_real(value)) : int_object(value);
        return *out == NULL ? FAILED : OK;
    case YYJSON_TYPE_STR:
        return str_object(value, out);
    case YYJSON_TYPE_ARR: {
        PyObject *list = PyList_New((Py_ssize_t)yyjson_arr_size(value));
        if (list == NULL) {
            return FAILED;
        }
        size_t index, max;
        yyjson_val *item;
        yyjson_arr_foreach(value, index, max, item) {
            PyObject *converted;
            int status = to_python(item, depth + 1, &converted);
            if (status != OK) {
                Py_DECREF(list);
                return status;
            }
            PyList_SET_ITEM(list, (Py_ssize_t)index, converted);
        }
        *out = list;
        return OK;
    }
    case YYJSON_TYPE_OBJ: {
        PyObject *dict = PyDict_New();
        if (dict == NULL) {
            return FAILED;
        }
        size_t index, max;
        yyjson_val *key, *item;
        yyjson_obj_foreach(value, index, max, key, item) {
            int status = add_field(dict, key, item, depth + 1);
            if (status != OK) {
                Py_DECREF(dict);
                return status;
            }
        }
        *out = dict;
        return OK;
    }
    default:
        return DECLINE;
    }
}

/* One number (the kind it has) for a column: its bits, or DECLINE. */
static inline int number_bits(yyjson_val *value, int *kind, uint64_t *bits) {
    if (yyjson_is_real(value)) {
        double number = yyjson_get_real(value);
        if (!(fabs(number) < INT64_SPAN)) {
            return DECLINE;
        }
        *kind = KIND_FLOAT;
        memcpy(bits, &number, sizeof number);
        return OK;
    }
    if (yyjson_is_sint(value)) {
        *kind = KIND_INT;
        int64_t number = yyjson_get_sint(value);
        memcpy(bits, &number, sizeof number);
        return OK;
    }
    if (yyjson_is_uint(value) && yyjson_get_uint(value) <= (uint64_t)INT64_MAX) {
        *kind = KIND_INT;
        *bits = yyjson_get_uint(value);
        return OK;
    }
    return DECLINE;
}

static int column_reserve(Column *column, Py_ssize_t more) {
    if (column->count + more <= column->capacity) {
        return OK;
    }
    Py_ssize_t capacity = column->capacity ? column->capacity * 2 : 64;
    while (capacity < column->count + more) {
        capacity *= 2;
    }
    uint64_t *grown = PyMem_Realloc(column->values, (size_t)capacity * sizeof(uint64_t));
    if (grown == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    column->values = grown;
    column->capacity = capacity;
    return OK;
}

/* Sets (first value) or checks a column's kind and width. */
static inline int column_shape(Column *column, int kind, Py_ssize_t width) {
    if (column->width < 0) {
        column->kind = kind;
        column->width = width;
        return OK;
    }
    return column->kind == kind && column->width == width ? OK : DECLINE;
}

/* A value appended to a column of its kind (DECLINE: the value does not fit the column's kind). */
static int typed_add(Column *column, yyjson_val *value) {
    if (yyjson_is_str(value)) {
        if (column_shape(column, KIND_STR, 0) != OK) {
            return DECLINE;
        }
        if (column->objects == NULL && (column->objects = PyList_New(0)) == NULL) {
            return FAILED;
        }
        return append_str(column->objects, value);
    }
    int kind = KIND_UNSET;
    if (yyjson_is_num(value)) {
        uint64_t bits;
        if (number_bits(value, &kind, &bits) != OK || column_shape(column, kind, 0) != OK) {
            return DECLINE;
        }
        if (column_reserve(column, 1) != OK) {
            return FAILED;
        }
        column->values[column->count++] = bits;
        return OK;
    }
    Py_ssize_t width = (Py_ssize_t)yyjson_arr_size(value);  /* 0 for a non-array */
    if (width == 0) {
        return DECLINE;
    }
    if (column_reserve(column, width) != OK) {
        return FAILED;
    }
    size_t index, max;
    yyjson_val *item;
    uint64_t *out = column->values + column->count;
    yyjson_arr_foreach(value, index, max, item) {
        int item_kind = KIND_UNSET;
        if (!yyjson_is_num(item) || number_bits(item, &item_kind, out + index) != OK) {
            return DECLINE;
        }
        if (index == 0) {
            kind = item_kind;
        } else if (item_kind != kind) {
            return DECLINE;
        }
    }
    if (column_shape(column, kind, width) != OK) {
        return DECLINE;
    }
    column->count += width;
    return OK;
}

/* One value of a number column as a float or an int. */
static inline PyObject *number_object(int kind, uint64_t bits) {
    if (kind == KIND_INT) {
        int64_t integer;
        memcpy(&integer, &bits, sizeof integer);
        return PyLong_FromLongLong(integer);
    }
    double real;
    memcpy(&real, &bits, sizeof real);
    return PyFloat_FromDouble(real);
}

/* A number column's values so far as Python values: a float or int per row, or a list of them. */
static PyObject *numbers_to_objects(Column *column) {
    Py_ssize_t width = column->width, per_row = width ? width : 1, rows = column->count / per_row;
    PyObject *list = PyList_New(rows);
    for (Py_ssize_t r = 0; list != NULL && r < rows; r++) {
        const uint64_t *bits = column->values + r * per_row;
        PyObject *row = width ? PyList_New(width) : number_object(column->kind, bits[0]);
        for (Py_ssize_t w = 0; width && row != NULL && w < width; w++) {
            PyObject *number = number_object(column->kind, bits[w]);
            if (number == NULL) {
                Py_CLEAR(row);
                break;
            }
            PyList_SET_ITEM(row, w, number);
        }
        if (row == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, r, row);
    }
    return list;
}

/* One member's value of a feature, appended to its column; a value that does not fit the
 * column's kind turns the column into a list of JSON values. */
static int column_add(Column *column, yyjson_val *value) {
    if (column->kind != KIND_OBJECT) {
        int status = typed_add(column, value);
        if (status != DECLINE) {
            return status;
        }
        PyObject *objects;
        if (column->kind == KIND_STR) {
            objects = column->objects;
        } else if (column->width < 0) {
            objects = PyList_New(0);
        } else {
            objects = numbers_to_objects(column);
        }
        if (objects == NULL) {
            return FAILED;
        }
        column->objects = objects;
        column->kind = KIND_OBJECT;
    }
    PyObject *converted;
    int status = to_python(value, 1, &converted);
    if (status != OK) {
        return status;
    }
    status = PyList_Append(column->objects, converted) < 0 ? FAILED : OK;
    Py_DECREF(converted);
    return status;
}

/* The group of a type (by the type's bytes), made on its first member. */
static int find_group(Groups *groups, yyjson_val **name, int parts, yyjson_val *features, Group **out) {
    for (int g = 0; g < groups->count; g++) {
        Group *group = &groups->items[g];
        int same = 1;
        for (int p = 0; p < parts && same; p++) {
            same = same_string(group->name[p], name[p]);
        }
        if (same) {
            *out = group;
            return OK;
        }
    }
    if (groups->count == MAX_GROUPS) {
        return DECLINE;
    }
    Group *group = &groups->items[groups->count++];
    memset(group, 0, sizeof *group);
    memcpy(group->name, name, (size_t)parts * sizeof *name);
    group->ids = PyList_New(0);
    if (group->ids == NULL || (parts == 3 && (group->dst_ids = PyList_New(0)) == NULL)) {
        return FAILED;
    }
    group->has_features = features != NULL;
    if (features != NULL) {
        size_t num_columns = yyjson_obj_size(features);
        if (num_columns > MAX_FEATURES) {
            return DECLINE;
        }
        group->columns = PyMem_Calloc(num_columns + 1, sizeof(Column));
        if (group->columns == NULL) {
            PyErr_NoMemory();
            return FAILED;
        }
        group->num_columns = (Py_ssize_t)num_columns;
        size_t index, max;
        yyjson_val *key, *value;
        yyjson_obj_foreach(features, index, max, key, value) {
            for (size_t before = 0; before < index; before++) {
                if (same_string(group->columns[before].name, key)) {
                    return DECLINE;  /* a feature key twice */
                }
            }
            group->columns[index].name = key;
            group->columns[index].width = -1;
        }
    }
    *out = group;
    return OK;
}

/* A member's features: the group's keys in the group's order, each value added to its column. */
static int add_features(Group *group, yyjson_val *features) {
    if ((features != NULL) != group->has_features) {
        return DECLINE;
    }
    if (features == NULL) {
        return OK;
    }
    if ((Py_ssize_t)yyjson_obj_size(features) != group->num_columns) {
        return DECLINE;
    }
    size_t index, max;
    yyjson_val *key, *value;
    yyjson_obj_foreach(features, index, max, key, value) {
        Column *column = &group->columns[index];
        if (!same_string(column->name, key)) {
            return DECLINE;
        }
        int status = column_add(column, value);
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

/* The member keys: exactly the required ones (each once), plus an optional "features" object. */
typedef struct {
    const char *key;
    yyjson_val *value;
} Field;

static int member_fields(yyjson_val *member, Field *fields, int num_fields, yyjson_val **features) {
    if (!yyjson_is_obj(member)) {
        return DECLINE;
    }
    *features = NULL;
    int found = 0, has_features = 0;
    size_t index, max;
    yyjson_val *key, *value;
    yyjson_obj_foreach(member, index, max, key, value) {
        int matched = 0;
        for (int f = 0; f < num_fields && !matched; f++) {
            if (yyjson_equals_str(key, fields[f].key)) {
                if (fields[f].value != NULL) {
                    return DECLINE;
                }
                fields[f].value = value;
                found++;
                matched = 1;
            }
        }
        if (!matched) {
            if (!yyjson_equals_str(key, "features") || has_features || !yyjson_is_obj(value)) {
                return DECLINE;
            }
            has_features = 1;
            *features = value;
        }
    }
    return found == num_fields ? OK : DECLINE;
}

static int walk_nodes(yyjson_val *nodes, Groups *groups) {
    size_t index, max;
    yyjson_val *member;
    yyjson_arr_foreach(nodes, index, max, member) {
        Field fields[2] = {{"node_type", NULL}, {"node_id", NULL}};
        yyjson_val *features;
        Group *group;
        int status = member_fields(member, fields, 2, &features);
        if (status == OK && !yyjson_is_str(fields[0].value)) {
            status = DECLINE;
        }
        if (status == OK) {
            status = find_group(groups, &fields[0].value, 1, features, &group);
        }
        if (status == OK) {
            status = append_id(group->ids, fields[1].value);
        }
        if (status == OK) {
            Py_ssize_t last = PyList_GET_SIZE(group->ids) - 1;
            status = id_add(&group->table, fields[1].value, PyList_GET_ITEM(group->ids, last), last);
        }
        if (status == OK) {
            status = add_features(group, features);
        }
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

/* The node group of a type name, or NULL. */
static Group *node_group(Groups *nodes, yyjson_val *name) {
    for (int g = 0; g < nodes->count; g++) {
        if (same_string(nodes->items[g].name[0], name)) {
            return &nodes->items[g];
        }
    }
    return NULL;
}

/* An edge endpoint: the str of the node it names (one object per node id) and its local
 * index, or a new str when no node has its id (the relation then has no local indices). */
static int append_endpoint(Group *edges, int side, Group *nodes, yyjson_val *id) {
    PyObject *list = side ? edges->dst_ids : edges->ids;
    IdSlot key = id_key(id);
    if (nodes != NULL && key.kind != ID_NONE) {
        IdSlot *slot = id_slot(&nodes->table, &key);
        if (slot == NULL) {
            return DECLINE;
        }
        if (slot->kind != ID_NONE) {
            Column *local = &edges->local[side];
            if (edges->indexed) {
                if (column_reserve(local, 1) != OK) {
                    return FAILED;
                }
                local->values[local->count++] = (uint64_t)slot->index;
            }
            return PyList_Append(list, slot->value) < 0 ? FAILED : OK;
        }
    }
    edges->indexed = 0;
    return append_id(list, id);
}

static int walk_edges(yyjson_val *edges, Groups *groups, Groups *nodes) {
    size_t index, max;
    yyjson_val *member;
    yyjson_arr_foreach(edges, index, max, member) {
        Field fields[3] = {{"edge_type", NULL}, {"src_node_id", NULL}, {"dest_node_id", NULL}};
        yyjson_val *features, *name[3];
        Group *group;
        int status = member_fields(member, fields, 3, &features);
        if (status == OK && yyjson_arr_size(fields[0].value) != 3) {
            status = DECLINE;
        }
        for (size_t p = 0; status == OK && p < 3; p++) {
            name[p] = yyjson_arr_get(fields[0].value, p);
            status = yyjson_is_str(name[p]) ? OK : DECLINE;
        }
        if (status == OK) {
            status = find_group(groups, name, 3, features, &group);
        }
        if (status == OK && PyList_GET_SIZE(group->ids) == 0) {
            group->ends[0] = node_group(nodes, name[0]);
            group->ends[1] = node_group(nodes, name[2]);
            group->indexed = 1;
        }
        if (status == OK) {
            status = append_endpoint(group, 0, group->ends[0], fields[1].value);
        }
        if (status == OK) {
            status = append_endpoint(group, 1, group->ends[1], fields[2].value);
        }
        if (status == OK) {
            status = add_features(group, features);
        }
        if (status != OK) {
            return status;
        }
    }
    return OK;
}

/* A number column's values (float64 or int64 bits) as a bytearray (NULL with a Python error). */
static PyObject *values_buffer(Column *column) {
    return PyByteArray_FromStringAndSize((const char *)column->values, column->count * (Py_ssize_t)sizeof(uint64_t));
}

/* A column as Python: (list of str,) for a text feature, the list of the values' Python objects
 * for a column of mixed kinds, or (bytearray of the values, width, is_int). */
static PyObject *column_result(Column *column) {
    if (column->kind == KIND_STR) {
        return Py_BuildValue("(O)", column->objects);
    }
    if (column->kind == KIND_OBJECT) {
        Py_INCREF(column->objects);
        return column->objects;
    }
    PyObject *buffer = values_buffer(column);
    if (buffer == NULL) {
        return NULL;
    }
    return Py_BuildValue("(NnO)", buffer, column->width, column->kind == KIND_INT ? Py_True : Py_False);
}

/* A group as Python: (type, ids[, dst_ids], features) with features None or [(name, column)]. */
static PyObject *group_result(Group *group, int parts) {
    PyObject *name = NULL, *features = Py_None;
    Py_INCREF(Py_None);
    if (parts == 1) {
        name = to_str(group->name[0]);
    } else if ((name = PyTuple_New(3)) != NULL) {
        for (int p = 0; p < 3; p++) {
            PyObject *part = to_str(group->name[p]);
            if (part == NULL) {
                Py_CLEAR(name);
                break;
            }
            PyTuple_SET_ITEM(name, p, part);
        }
    }
    if (name != NULL && group->has_features) {
        Py_DECREF(features);
        features = PyList_New(group->num_columns);
        for (Py_ssize_t c = 0; features != NULL && c < group->num_columns; c++) {
            PyObject *column_name = to_str(group->columns[c].name);
            PyObject *column = column_name == NULL ? NULL : column_result(&group->columns[c]);
            PyObject *pair = column == NULL ? NULL : PyTuple_Pack(2, column_name, column);
            Py_XDECREF(column_name);
            Py_XDECREF(column);
            if (pair == NULL) {
                Py_CLEAR(features);
                break;
            }
            PyList_SET_ITEM(features, c, pair);
        }
    }
    if (name == NULL || features == NULL) {
        Py_XDECREF(name);
        Py_XDECREF(features);
        return NULL;
    }
    if (parts == 1) {
        return Py_BuildValue("(NON)", name, group->ids, features);
    }
    PyObject *local = Py_None;
    Py_INCREF(Py_None);
    if (group->indexed) {
        Py_DECREF(local);
        local = Py_BuildValue("(NN)", values_buffer(&group->local[0]), values_buffer(&group->local[1]));
        if (local == NULL) {
            Py_DECREF(name);
            Py_DECREF(features);
            return NULL;
        }
    }
    return Py_BuildValue("(NOONN)", name, group->ids, group->dst_ids, features, local);
}

static PyObject *groups_result(Groups *groups, int parts) {
    PyObject *list = PyList_New(groups->count);
    for (int g = 0; list != NULL && g < groups->count; g++) {
        PyObject *item = group_result(&groups->items[g], parts);
        if (item == NULL) {
            Py_CLEAR(list);
            break;
        }
        PyList_SET_ITEM(list, g, item);
    }
    return list;
}

/* The request object's fields, targets and graph (json_columns.h; arrow_columns.c reads an Arrow
 * body's gs_request with it). */
int json_request_fields(yyjson_val *root, PyObject *fields, PyObject **targets, yyjson_val **graph) {
    if (!yyjson_is_obj(root)) {
        return DECLINE;
    }
    *graph = NULL;
    size_t index, max;
    yyjson_val *key, *value;
    yyjson_obj_foreach(root, index, max, key, value) {
        int status;
        if (yyjson_equals_str(key, "graph")) {
            status = *graph != NULL ? DECLINE : OK;
            *graph = value;
        } else if (yyjson_equals_str(key, "targets")) {
            status = *targets != NULL ? DECLINE : to_python(value, 0, targets);
        } else {
            status = add_field(fields, key, value, 0);
        }
        if (status != OK) {
            return status;
        }
    }
    return *targets == NULL ? DECLINE : OK;
}

/* The top level: other fields and targets as Python values, "graph" as the two group sets. */
static int walk_root(yyjson_val *root, PyObject *fields, PyObject **targets, Groups *nodes, Groups *edges) {
    yyjson_val *graph;
    int status = json_request_fields(root, fields, targets, &graph);
    if (status != OK) {
        return status;
    }
    if (!yyjson_is_obj(graph) || yyjson_obj_size(graph) != 2) {
        return DECLINE;
    }
    yyjson_val *node_list = yyjson_obj_get(graph, "nodes"), *edge_list = yyjson_obj_get(graph, "edges");
    if (!yyjson_is_arr(node_list) || !yyjson_is_arr(edge_list) || yyjson_arr_size(node_list) == 0) {
        return DECLINE;
    }
    status = walk_nodes(node_list, nodes);
    return status == OK ? walk_edges(edge_list, edges, nodes) : status;
}

PyObject *json_columns(PyObject *self, PyObject *args) {
    (void)self;
    Py_buffer body;
    if (!PyArg_ParseTuple(args, "y*:json_columns", &body)) {
        return NULL;
    }
    yyjson_doc *doc = yyjson_read((const char *)body.buf, (size_t)body.len, YYJSON_READ_NOFLAG);
    PyBuffer_Release(&body);
    if (doc == NULL) {
        Py_RETURN_NONE;
    }
    Groups *nodes = PyMem_Calloc(1, sizeof(Groups)), *edges = PyMem_Calloc(1, sizeof(Groups));
    PyObject *fields = PyDict_New(), *targets = NULL, *result = NULL;
    int status = FAILED;
    if (nodes == NULL || edges == NULL) {
        PyErr_NoMemory();
    } else if (fields != NULL) {
        status = walk_root(yyjson_doc_get_root(doc), fields, &targets, nodes, edges);
    }
    if (status == OK) {
        PyObject *node_groups = groups_result(nodes, 1);
        PyObject *edge_groups = node_groups == NULL ? NULL : groups_result(edges, 3);
        if (edge_groups != NULL) {
            result = PyTuple_Pack(4, fields, targets, node_groups, edge_groups);
        }
        Py_XDECREF(node_groups);
        Py_XDECREF(edge_groups);
        if (result == NULL) {
            status = FAILED;
        }
    }
    yyjson_doc_free(doc);
    if (nodes != NULL) {
        groups_clear(nodes);
        PyMem_Free(nodes);
    }
    if (edges != NULL) {
        groups_clear(edges);
        PyMem_Free(edges);
    }
    Py_XDECREF(fields);
    Py_XDECREF(targets);
    if (status == DECLINE) {
        Py_RETURN_NONE;
    }
    return result;  /* NULL with the Python error when FAILED */
}
