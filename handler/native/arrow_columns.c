/* An Arrow request body straight to the columns json_columns gives (handler/native/__init__.py:
 * arrow_columns).
 *
 * A gs-realtime-arrow-v2 body (handler/contract/arrow_payload.py) is one IPC stream: a Schema
 * message, a RecordBatch message of one row and the end-of-stream marker. This file reads the two
 * messages' flatbuffers itself, without pyarrow, and only in the form pyarrow's writer gives them
 * (payload_to_arrow): metadata version V5, little-endian, no dictionaries, no compression, no
 * nulls, every column a ``list`` of int64, double or utf8 values or of fixed-size lists of int64
 * or double, every buffer 8-byte aligned inside the body, the one list row spanning its whole
 * child, every column named once by the layout (each name is a copy of its values: a column named
 * a thousand times would ask for a thousand times the body). It then reads the layout and request
 * metadata with yyjson and returns the request as json_columns does: per node type the ids
 * (non-empty strs, none twice) and the feature columns (the values' bytes in a bytearray, or a
 * list of strs in a 1-tuple); per relation given as positions (``src_index``/``dest_index``,
 * each inside its node type) the endpoint ids, their local indices and its feature columns.
 *
 * Anything else returns None and the caller reads the body with pyarrow (read_arrow), which
 * decides every error. So this reader accepts a subset of what pyarrow accepts, and reads the
 * same values from it: every flatbuffer position, vtable, vector and string is bounds- and
 * alignment-checked as flatbuffers' verifier checks it, a table field this file does not read
 * declines, and every buffer, offset and UTF-8 string is checked as ``validate(full=True)``
 * checks it, before any value is read. Never a partial result.
 *
 * Plain C API, no numpy or Arrow headers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#include "arrow_columns.h"
#include "json_columns.h"

/* The Arrow format's constants (format/Message.fbs, format/Schema.fbs). */
#define CONTINUATION 0xFFFFFFFFu
#define METADATA_V5 4
#define HEADER_SCHEMA 1
#define HEADER_RECORD_BATCH 3
#define TYPE_INT 2
#define TYPE_FLOATING_POINT 3
#define TYPE_UTF8 5
#define TYPE_LIST 12
#define TYPE_FIXED_SIZE_LIST 16
#define PRECISION_DOUBLE 2
/* FieldNode and Buffer: structs of two int64s. */
#define STRUCT_SIZE 16

/* More node types or relations than any model has: beyond it pyarrow reads the body. */
#define MAX_GROUPS 256

/* A column's values: int64s, doubles or utf8 strings. */
enum { LEAF_INT = 1, LEAF_FLOAT, LEAF_STR };

/* One column of the record batch (a list<leaf> or list<fixed_size_list<leaf>>), its row's values. */
typedef struct {
    int leaf;
    int64_t width;           /* 0: scalars; > 0: fixed-size lists of this length */
    int64_t rows;            /* values (lists, for a fixed-size list column) in the row */
    const uint8_t *values;   /* LEAF_INT / LEAF_FLOAT: rows * max(width, 1) little-endian 8-byte values; LEAF_STR: the data */
    const uint8_t *offsets;  /* LEAF_STR: rows + 1 int32 offsets into ``values`` */
    int used;                /* the layout names it (once at most: each name is a copy) */
} ArrowColumn;

typedef struct {
    const uint8_t *data;
    size_t size;
} Flat;

/* A flatbuffer table: where it starts, its vtable and their sizes. */
typedef struct {
    const Flat *flat;
    size_t at, vtable, vsize, tsize;
} Table;

static inline uint16_t load_u16(const uint8_t *p) {
    uint16_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

static inline uint32_t load_u32(const uint8_t *p) {
    uint32_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

static inline int64_t load_i64(const uint8_t *p) {
    int64_t value;
    memcpy(&value, p, sizeof value);
    return value;
}

/* The table at ``at`` (its soffset to the vtable, the vtable's two sizes, both within the buffer). */
static int table_at(const Flat *flat, size_t at, Table *out) {
    if (at % 4 || flat->size < 4 || at > flat->size - 4) {
        return DECLINE;
    }
    int64_t vtable = (int64_t)at - (int32_t)load_u32(flat->data + at);
    if (vtable < 0 || vtable % 2 || (uint64_t)vtable > flat->size - 4) {
        return DECLINE;
    }
    size_t vsize = load_u16(flat->data + vtable), tsize = load_u16(flat->data + vtable + 2);
    if (vsize < 4 || vsize % 2 || vsize > flat->size - (size_t)vtable || tsize < 4 || tsize > flat->size - at) {
        return DECLINE;
    }
    *out = (Table){flat, at, (size_t)vtable, vsize, tsize};
    return OK;
}

/* Field ``index``'s offset in the table (0: absent). */
static inline size_t field_offset(const Table *table, int index) {
    size_t slot = 4 + 2 * (size_t)index;
    return slot + 2 <= table->vsize ? load_u16(table->flat->data + table->vtable + slot) : 0;
}

/* DECLINE when a field outside the bit mask ``known`` is present (one this file does not read). */
static int only_fields(const Table *table, uint32_t known) {
    for (size_t slot = 4, index = 0; slot + 2 <= table->vsize; slot += 2, index++) {
        if (load_u16(table->flat->data + table->vtable + slot) != 0 && (index >= 32 || !((known >> index) & 1))) {
            return DECLINE;
        }
    }
    return OK;
}

/* A little-endian scalar field of ``size`` bytes, sign-extended (``fallback`` when absent). */
static int scalar_field(const Table *table, int index, size_t size, int64_t fallback, int64_t *out) {
    size_t offset = field_offset(table, index);
    if (offset == 0) {
        *out = fallback;
        return OK;
    }
    if (offset + size > table->tsize || (table->at + offset) % size) {
        return DECLINE;
    }
    const uint8_t *p = table->flat->data + table->at + offset;
    switch (size) {
    case 1: *out = (int8_t)p[0]; break;
    case 2: *out = (int16_t)load_u16(p); break;
    case 4: *out = (int32_t)load_u32(p); break;
    default: *out = load_i64(p); break;
    }
    return OK;
}

/* The position a reference (uoffset) at ``at`` points at. */
static int follow(const Flat *flat, size_t at, size_t *out) {
    if (at % 4 || at > flat->size - 4) {
        return DECLINE;
    }
    uint32_t relative = load_u32(flat->data + at);
    if (relative == 0 || relative > INT32_MAX || relative > flat->size - at) {
        return DECLINE;
    }
    *out = at + relative;
    return OK;
}

/* A reference field (a table, vector or string): its target, or 0 when absent. */
static int ref_field(const Table *table, int index, size_t *out) {
    size_t offset = field_offset(table, index);
    *out = 0;
    if (offset == 0) {
        return OK;
    }
    if (offset + 4 > table->tsize) {
        return DECLINE;
    }
    return follow(table->flat, table->at + offset, out);
}

/* The vector at ``at``: its length, and its first element (``size`` bytes each, ``align``ed). */
static int vector_at(const Flat *flat, size_t at, size_t size, size_t align, size_t *length, size_t *first) {
    if (at % 4 || at > flat->size - 4) {
        return DECLINE;
    }
    size_t count = load_u32(flat->data + at), start = at + 4;
    if (count > (flat->size - start) / size || (count && start % align)) {
        return DECLINE;
    }
    *length = count;
    *first = start;
    return OK;
}

/* A vector field: its length and first element (length 0 when absent). */
static int vector_field(const Table *table, int index, size_t size, size_t align, size_t *length, size_t *first) {
    size_t at;
    *length = 0;
    *first = 0;
    if (ref_field(table, index, &at) != OK) {
        return DECLINE;
    }
    return at == 0 ? OK : vector_at(table->flat, at, size, align, length, first);
}

/* A string field (NUL-terminated inside the buffer, as the verifier wants): DECLINE when absent. */
static int string_field(const Table *table, int index, const uint8_t **text, size_t *len) {
    size_t at, first;
    if (ref_field(table, index, &at) != OK || at == 0 || vector_at(table->flat, at, 1, 1, len, &first) != OK ||
        first + *len >= table->flat->size || table->flat->data[first + *len] != 0) {
        return DECLINE;
    }
    *text = table->flat->data + first;
    return OK;
}

/* Element ``i`` of a vector of tables. */
static int table_element(const Flat *flat, size_t first, size_t i, Table *out) {
    size_t at;
    return follow(flat, first + 4 * i, &at) == OK ? table_at(flat, at, out) : DECLINE;
}

/* A union field (its type at ``index``, its table at ``index + 1``): the type, and the table. */
static int union_field(const Table *table, int index, int64_t *type, Table *out) {
    size_t at;
    if (scalar_field(table, index, 1, 0, type) != OK || ref_field(table, index + 1, &at) != OK || at == 0) {
        return DECLINE;
    }
    *type &= 0xFF;
    return table_at(table->flat, at, out);
}

/* Whether ``text`` is valid UTF-8 as Arrow's validation and Python's strict decoder take it (no
 * overlong forms, no surrogates, nothing above U+10FFFF). */
static int valid_utf8(const uint8_t *text, size_t len) {
    size_t i = 0;
    while (i < len) {
        uint8_t byte = text[i];
        if (byte < 0x80) {
            i++;
            continue;
        }
        size_t need;
        uint32_t low = 0x80, high = 0xBF;  /* the second byte's range */
        if (byte >= 0xC2 && byte <= 0xDF) {
            need = 1;
        } else if (byte >= 0xE0 && byte <= 0xEF) {
            need = 2;
            low = byte == 0xE0 ? 0xA0 : 0x80;
            high = byte == 0xED ? 0x9F : 0xBF;
        } else if (byte >= 0xF0 && byte <= 0xF4) {
            need = 3;
            low = byte == 0xF0 ? 0x90 : 0x80;
            high = byte == 0xF4 ? 0x8F : 0xBF;
        } else {
            return 0;
        }
        if (len - i <= need || text[i + 1] < low || text[i + 1] > high) {
            return 0;
        }
        for (size_t k = 2; k <= need; k++) {
            if ((text[i + k] & 0xC0) != 0x80) {
                return 0;
            }
        }
        i += need + 1;
    }
    return 1;
}

/* One encapsulated message of the stream. */
typedef struct {
    Flat meta;
    Table message;
    int64_t header_type;
    Table header;
    const uint8_t *body;
    size_t body_size;
} Message;

/* The message at ``*at`` (continuation marker, metadata size, Message flatbuffer, body); ``*at``
 * moves past it. */
static int read_message(const uint8_t *data, size_t size, size_t *at, Message *out) {
    size_t pos = *at;
    if (size - pos < 8 || load_u32(data + pos) != CONTINUATION) {
        return DECLINE;
    }
    int32_t meta_size = (int32_t)load_u32(data + pos + 4);
    if (meta_size < 8 || meta_size % 8 || (size_t)meta_size > size - pos - 8) {
        return DECLINE;
    }
    out->meta = (Flat){data + pos + 8, (size_t)meta_size};
    size_t root;
    int64_t version, body_size;
    /* Message: version, header (type, table), bodyLength (custom_metadata: DECLINE). */
    if (follow(&out->meta, 0, &root) != OK || table_at(&out->meta, root, &out->message) != OK ||
        only_fields(&out->message, 0xF) != OK || scalar_field(&out->message, 0, 2, 0, &version) != OK ||
        version != METADATA_V5 || union_field(&out->message, 1, &out->header_type, &out->header) != OK ||
        scalar_field(&out->message, 3, 8, 0, &body_size) != OK || body_size < 0 || body_size % 8 ||
        (uint64_t)body_size > size - pos - 8 - (size_t)meta_size) {
        return DECLINE;
    }
    out->body = data + pos + 8 + meta_size;
    out->body_size = (size_t)body_size;
    *at = pos + 8 + (size_t)meta_size + (size_t)body_size;
    return OK;
}

/* A field's type: the union's type and table, and its children (a vector of Field tables). */
static int field_type(const Table *field, int64_t *type, Table *type_table, size_t *children, size_t *first_child) {
    /* Field: name, nullable, type (type, table), children (dictionary, custom_metadata: DECLINE). */
    const uint8_t *name;
    size_t len;
    if (only_fields(field, 0x2F) != OK || string_field(field, 0, &name, &len) != OK ||
        !valid_utf8(name, len) /* pyarrow reads the names as str */ || union_field(field, 2, type, type_table) != OK ||
        vector_field(field, 5, 4, 4, children, first_child) != OK) {
        return DECLINE;
    }
    int64_t nullable;
    return scalar_field(field, 1, 1, 0, &nullable);
}

/* A leaf type (int64, double, utf8, without children): its LEAF_* kind. */
static int leaf_type(const Table *field, int *leaf) {
    int64_t type, bits, is_signed, precision;
    Table type_table;
    size_t children, first;
    if (field_type(field, &type, &type_table, &children, &first) != OK || children != 0) {
        return DECLINE;
    }
    if (type == TYPE_INT && only_fields(&type_table, 0x3) == OK && scalar_field(&type_table, 0, 4, 0, &bits) == OK &&
        scalar_field(&type_table, 1, 1, 0, &is_signed) == OK && bits == 64 && is_signed == 1) {
        *leaf = LEAF_INT;
    } else if (type == TYPE_FLOATING_POINT && only_fields(&type_table, 0x1) == OK &&
               scalar_field(&type_table, 0, 2, 0, &precision) == OK && precision == PRECISION_DOUBLE) {
        *leaf = LEAF_FLOAT;
    } else if (type == TYPE_UTF8 && only_fields(&type_table, 0) == OK) {
        *leaf = LEAF_STR;
    } else {
        return DECLINE;
    }
    return OK;
}

/* A schema field: list<leaf> or list<fixed_size_list<int64 | double>>. */
static int column_type(const Table *field, ArrowColumn *column) {
    int64_t type;
    Table type_table, child, grandchild;
    size_t children, first;
    if (field_type(field, &type, &type_table, &children, &first) != OK || type != TYPE_LIST ||
        only_fields(&type_table, 0) != OK || children != 1 || table_element(field->flat, first, 0, &child) != OK) {
        return DECLINE;
    }
    if (leaf_type(&child, &column->leaf) == OK) {
        column->width = 0;
        return OK;
    }
    if (field_type(&child, &type, &type_table, &children, &first) != OK || type != TYPE_FIXED_SIZE_LIST ||
        only_fields(&type_table, 0x1) != OK || scalar_field(&type_table, 0, 4, 0, &column->width) != OK ||
        column->width <= 0 || children != 1 || table_element(child.flat, first, 0, &grandchild) != OK ||
        leaf_type(&grandchild, &column->leaf) != OK || column->leaf == LEAF_STR) {
        return DECLINE;
    }
    return OK;
}

/* The schema: its columns' types, and the three metadata values of the format. */
typedef struct {
    const uint8_t *text;
    size_t len;
} Bytes;

static int read_schema(const Message *message, ArrowColumn **columns, size_t *num_columns, Bytes *request,
                       Bytes *layout) {
    const Table *schema = &message->header;
    int64_t endianness;
    size_t count, first, pairs, first_pair;
    /* Schema: endianness, fields, custom_metadata (features: DECLINE). */
    if (message->header_type != HEADER_SCHEMA || message->body_size != 0 || only_fields(schema, 0x7) != OK ||
        scalar_field(schema, 0, 2, 0, &endianness) != OK || endianness != 0 ||
        vector_field(schema, 1, 4, 4, &count, &first) != OK ||
        vector_field(schema, 2, 4, 4, &pairs, &first_pair) != OK || count == 0) {
        return DECLINE;
    }
    Bytes format = {NULL, 0};
    request->text = layout->text = NULL;
    for (size_t i = 0; i < pairs; i++) {
        Table pair;
        Bytes key, value;
        if (table_element(&message->meta, first_pair, i, &pair) != OK || only_fields(&pair, 0x3) != OK ||
            string_field(&pair, 0, &key.text, &key.len) != OK || string_field(&pair, 1, &value.text, &value.len) != OK) {
            return DECLINE;
        }
        Bytes *slot = NULL;
        if (key.len == 9 && memcmp(key.text, "gs_format", 9) == 0) {
            slot = &format;
        } else if (key.len == 10 && memcmp(key.text, "gs_request", 10) == 0) {
            slot = request;
        } else if (key.len == 9 && memcmp(key.text, "gs_layout", 9) == 0) {
            slot = layout;
        }
        if (slot != NULL) {
            if (slot->text != NULL) {
                return DECLINE;  /* a key twice: pyarrow's dict decides which counts */
            }
            *slot = value;
        }
    }
    static const char v2[] = "gs-realtime-arrow-v2";
    if (format.text == NULL || format.len != sizeof v2 - 1 || memcmp(format.text, v2, format.len) != 0 ||
        request->text == NULL || layout->text == NULL) {
        return DECLINE;
    }
    *columns = PyMem_Calloc(count, sizeof(ArrowColumn));
    if (*columns == NULL) {
        PyErr_NoMemory();
        return FAILED;
    }
    *num_columns = count;
    for (size_t i = 0; i < count; i++) {
        Table field;
        if (table_element(&message->meta, first, i, &field) != OK || column_type(&field, &(*columns)[i]) != OK) {
            return DECLINE;
        }
    }
    return OK;
}

/* The record batch's nodes and buffers, taken in order as the columns' layouts need them. */
typedef struct {
    const Message *message;
    size_t num_nodes, first_node, next_node;
    size_t num_buffers, first_buffer, next_buffer;
} BatchCursor;

/* The next field node: its length (null count 0, or DECLINE). */
static int next_node(BatchCursor *cursor, int64_t *length) {
    if (cursor->next_node == cursor->num_nodes) {
        return DECLINE;
    }
    const uint8_t *node = cursor->message->meta.data + cursor->first_node + STRUCT_SIZE * cursor->next_node++;
    *length = load_i64(node);
    return *length >= 0 && load_i64(node + 8) == 0 ? OK : DECLINE;
}

/* The next buffer: inside the body, 8-byte aligned, at least ``needed`` bytes. */
static int next_buffer(BatchCursor *cursor, int64_t needed, const uint8_t **start, int64_t *length) {
    if (cursor->next_buffer == cursor->num_buffers) {
        return DECLINE;
    }
    const uint8_t *buffer = cursor->message->meta.data + cursor->first_buffer + STRUCT_SIZE * cursor->next_buffer++;
    int64_t offset = load_i64(buffer), size = load_i64(buffer + 8);
    int64_t body = (int64_t)cursor->message->body_size;
    if (offset < 0 || size < 0 || offset % 8 || offset > body || size > body - offset || size < needed) {
        return DECLINE;
    }
    *start = cursor->message->body + offset;
    *length = size;
    return OK;
}

/* One column's nodes and buffers (list: validity, offsets; its child's), checked as full
 * validation checks them. */
static int read_column(BatchCursor *cursor, ArrowColumn *column) {
    const uint8_t *validity, *offsets;
    int64_t length, rows, size;
    if (next_node(cursor, &length) != OK || length != 1 || next_buffer(cursor, 0, &validity, &size) != OK ||
        next_buffer(cursor, 8, &offsets, &size) != OK || next_node(cursor, &rows) != OK ||
        (int32_t)load_u32(offsets) != 0 || (int64_t)(int32_t)load_u32(offsets + 4) != rows ||
        next_buffer(cursor, 0, &validity, &size) != OK) {
        return DECLINE;
    }
    column->rows = rows;
    if (column->leaf == LEAF_STR) {
        if (rows > INT32_MAX || next_buffer(cursor, 4 * (rows + 1), &column->offsets, &size) != OK ||
            next_buffer(cursor, 0, &column->values, &size) != OK) {
            return DECLINE;
        }
        int32_t previous = (int32_t)load_u32(column->offsets);
        if (previous < 0) {
            return DECLINE;
        }
        for (int64_t i = 1; i <= rows; i++) {
            int32_t offset = (int32_t)load_u32(column->offsets + 4 * i);
            if (offset < previous || offset > size) {
                return DECLINE;
            }
            previous = offset;
        }
        return OK;  /* the values' UTF-8: unread_strings_valid, or Python's decoding of the read ones */
    }
    int64_t values = rows;
    if (column->width > 0) {
        if (rows > INT64_MAX / 8 / column->width || next_node(cursor, &values) != OK ||
            values != rows * column->width || next_buffer(cursor, 0, &validity, &size) != OK) {
            return DECLINE;
        }
    }
    if (values > INT64_MAX / 8) {
        return DECLINE;
    }
    return next_buffer(cursor, 8 * values, &column->values, &size);
}

/* Full validation checks every str of every column, read or not: the string columns the layout
 * does not name (Python's strict decoding checks the others, by the same rules). */
static int unread_strings_valid(const ArrowColumn *columns, size_t num_columns) {
    for (size_t c = 0; c < num_columns; c++) {
        const ArrowColumn *column = &columns[c];
        for (int64_t i = 0; column->leaf == LEAF_STR && !column->used && i < column->rows; i++) {
            int32_t start = (int32_t)load_u32(column->offsets + 4 * i);
            int32_t end = (int32_t)load_u32(column->offsets + 4 * i + 4);
            if (!valid_utf8(column->values + start, (size_t)(end - start))) {
                return DECLINE;
            }
        }
    }
    return OK;
}

static int read_batch(const Message *message, ArrowColumn *columns, size_t num_columns) {
    const Table *batch = &message->header;
    int64_t length;
    BatchCursor cursor = {message, 0, 0, 0, 0, 0, 0};
    /* RecordBatch: length, nodes, buffers (compression, variadicBufferCounts: DECLINE). */
    if (message->header_type != HEADER_RECORD_BATCH || only_fields(batch, 0x7) != OK ||
        scalar_field(batch, 0, 8, 0, &length) != OK || length != 1 ||
        vector_field(batch, 1, STRUCT_SIZE, 8, &cursor.num_nodes, &cursor.first_node) != OK ||
        vector_field(batch, 2, STRUCT_SIZE, 8, &cursor.num_buffers, &cursor.first_buffer) != OK) {
        return DECLINE;
    }
    for (size_t i = 0; i < num_columns; i++) {
        if (read_column(&cursor, &columns[i]) != OK) {
            return DECLINE;
        }
    }
    return cursor.next_node == cursor.num_nodes && cursor.next_buffer == cursor.num_buffers ? OK : DECLINE;
}

/* -- the columns as Python ------------------------------------------------------------------- */

/* A column's strs (DECLINE: a str Python refuses, or ``ids`` and one is empty or twice). */
static int str_list(const ArrowColumn *column, int ids, PyObject **out) {
    PyObject *list = PyList_New((Py_ssize_t)column->rows);
    if (list == NULL) {
        return FAILED;
    }
    for (int64_t i = 0; i < column->rows; i++) {
        int32_t start = (int32_t)load_u32(column->offsets + 4 * i), end = (int32_t)load_u32(column->offsets + 4 * i + 4);
        PyObject *text = (ids && end == start) ? NULL :
            PyUnicode_DecodeUTF8((const char *)column->values + start, end - start, "strict");
        if (text == NULL) {
            Py_DECREF(list);
            if (PyErr_Occurred() && !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                return FAILED;
            }
            PyErr_Clear();
            return DECLINE;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)i, text);
    }
    if (ids) {
        PyObject *distinct = PySet_New(list);
        if (distinct == NULL) {
            Py_DECREF(list);
            return FAILED;
        }
        Py_ssize_t size = PySet_GET_SIZE(distinct);
        Py_DECREF(distinct);
        if (size != PyList_GET_SIZE(list)) {
            Py_DECREF(list);
            return DECLINE;  /* a node id twice in its type */
        }
    }
    *out = list;
    return OK;
}

/* A feature column as json_columns gives it: (list of strs,), or (bytearray, width, is_int). */
static int feature_column(const ArrowColumn *column, PyObject **out) {
    if (column->leaf == LEAF_STR) {
        PyObject *strs;
        int status = str_list(column, 0, &strs);
        if (status == OK) {
            *out = Py_BuildValue("(N)", strs);
            status = *out == NULL ? FAILED : OK;
        }
        return status;
    }
    int64_t count = column->rows * (column->width > 0 ? column->width : 1);
    PyObject *buffer = PyByteArray_FromStringAndSize((const char *)column->values, (Py_ssize_t)(8 * count));
    *out = buffer == NULL ? NULL :
        Py_BuildValue("(NLO)", buffer, (long long)column->width, column->leaf == LEAF_INT ? Py_True : Py_False);
    return *out == NULL ? FAILED : OK;
}

/* The layout's column position ``value`` (DECLINE: not a position of the batch, or one the layout
 * named before: each name gets its own copy of the values, so a body naming one column many
 * times would ask for many times its size; payload_to_arrow writes a column per name). */
static int position(yyjson_val *value, ArrowColumn *columns, size_t num_columns, size_t *out) {
    if (!yyjson_is_uint(value) || yyjson_get_uint(value) >= num_columns || columns[yyjson_get_uint(value)].used) {
        return DECLINE;
    }
    *out = (size_t)yyjson_get_uint(value);
    columns[*out].used = 1;
    return OK;
}

/* A layout entry's features: None (null), or [(name, column)] of ``rows`` values each. */
static int features_result(yyjson_val *spec, ArrowColumn *columns, size_t num_columns, int64_t rows,
                           PyObject **out) {
    if (yyjson_is_null(spec)) {
        Py_INCREF(Py_None);
        *out = Py_None;
        return OK;
    }
    if (!yyjson_is_obj(spec)) {
        return DECLINE;
    }
    PyObject *list = PyList_New(0), *seen = PySet_New(NULL);
    int status = list == NULL || seen == NULL ? FAILED : OK;
    size_t index, max, at;
    yyjson_val *key, *value;
    yyjson_obj_foreach(spec, index, max, key, value) {
        PyObject *name = NULL, *column = NULL;
        if (status == OK) {
            status = position(value, columns, num_columns, &at) == OK && columns[at].rows == rows ? OK : DECLINE;
        }
        if (status == OK) {
            status = str_object(key, &name);
        }
        if (status == OK) {
            int known = PySet_Contains(seen, name);
            status = known < 0 ? FAILED : known ? DECLINE : PySet_Add(seen, name) < 0 ? FAILED : OK;
        }
        if (status == OK) {
            status = feature_column(&columns[at], &column);
        }
        if (status == OK) {
            PyObject *pair = PyTuple_Pack(2, name, column);
            status = pair == NULL ? FAILED : PyList_Append(list, pair) < 0 ? FAILED : OK;
            Py_XDECREF(pair);
        }
        Py_XDECREF(name);
        Py_XDECREF(column);
    }
    Py_XDECREF(seen);
    if (status != OK) {
        Py_XDECREF(list);
        return status;
    }
    *out = list;
    return OK;
}

/* The entry's keys: exactly ``names`` (each once). */
static int entry_keys(yyjson_val *entry, const char *const *names, int count, yyjson_val **values) {
    if (!yyjson_is_obj(entry) || yyjson_obj_size(entry) != (size_t)count) {
        return DECLINE;
    }
    for (int k = 0; k < count; k++) {
        values[k] = yyjson_obj_get(entry, names[k]);
        if (values[k] == NULL) {
            return DECLINE;
        }
    }
    return OK;  /* count keys, each found: none twice */
}

/* A str of a yyjson string (DECLINE: not a string, or one Python refuses). */
static int name_str(yyjson_val *value, PyObject **out) {
    return yyjson_is_str(value) ? str_object(value, out) : DECLINE;
}

/* The node groups: (type, ids, features) per layout entry; ``types`` and ``ids`` keep each type's
 * name and ids (borrowed from the result) for the relations. */
static int node_groups(yyjson_val *entries, ArrowColumn *columns, size_t num_columns, PyObject *result,
                       PyObject **types, PyObject **ids, size_t *count) {
    static const char *const names[] = {"node_type", "node_id", "features"};
    size_t index, max;
    yyjson_val *entry;
    *count = 0;
    yyjson_arr_foreach(entries, index, max, entry) {
        yyjson_val *values[3];
        size_t at;
        PyObject *type = NULL, *id_list = NULL, *features = NULL;
        int status = entry_keys(entry, names, 3, values) == OK && position(values[1], columns, num_columns, &at) == OK &&
            columns[at].leaf == LEAF_STR && columns[at].width == 0 && columns[at].rows > 0 && *count < MAX_GROUPS ?
            name_str(values[0], &type) : DECLINE;
        for (size_t g = 0; status == OK && g < *count; g++) {
            int same = PyUnicode_Compare(types[g], type);
            status = same == -1 && PyErr_Occurred() ? FAILED : same == 0 ? DECLINE : OK;
        }
        if (status == OK) {
            status = str_list(&columns[at], 1, &id_list);
        }
        if (status == OK) {
            status = features_result(values[2], columns, num_columns, columns[at].rows, &features);
        }
        PyObject *group = status == OK ? PyTuple_Pack(3, type, id_list, features) : NULL;
        if (group != NULL) {
            types[*count] = type;  /* borrowed: the group holds them */
            ids[(*count)++] = id_list;
            status = PyList_Append(result, group) < 0 ? FAILED : OK;
            Py_DECREF(group);
        } else if (status == OK) {
            status = FAILED;
        }
        Py_XDECREF(type);
        Py_XDECREF(id_list);
        Py_XDECREF(features);
        if (status != OK) {
            return status;
        }
    }
    return *count > 0 ? OK : DECLINE;
}

/* A relation's endpoints of one side: the node ids at the positions, and the positions (int64). */
static int endpoints(const ArrowColumn *column, PyObject *node_ids, PyObject **ids, PyObject **local) {
    if (column->leaf != LEAF_INT || column->width != 0) {
        return DECLINE;
    }
    Py_ssize_t nodes = PyList_GET_SIZE(node_ids);
    *ids = PyList_New((Py_ssize_t)column->rows);
    *local = *ids == NULL ? NULL : PyByteArray_FromStringAndSize((const char *)column->values, 8 * column->rows);
    if (*local == NULL) {
        Py_CLEAR(*ids);
        return FAILED;
    }
    for (int64_t i = 0; i < column->rows; i++) {
        int64_t at = load_i64(column->values + 8 * i);
        if (at < 0 || at >= nodes) {
            Py_CLEAR(*ids);
            Py_CLEAR(*local);
            return DECLINE;  /* pyarrow's reader answers the 400 */
        }
        PyObject *id = PyList_GET_ITEM(node_ids, at);
        Py_INCREF(id);
        PyList_SET_ITEM(*ids, (Py_ssize_t)i, id);
    }
    return OK;
}

/* The node type named ``value`` among ``types`` (-1: none). */
static int node_type_index(PyObject *name, PyObject **types, size_t count) {
    for (size_t g = 0; g < count; g++) {
        if (PyUnicode_Compare(types[g], name) == 0) {
            return (int)g;
        }
    }
    return -1;
}

/* The edge groups: ((src, rel, dst), src ids, dst ids, features, (src local, dst local)). */
static int edge_groups(yyjson_val *entries, ArrowColumn *columns, size_t num_columns, PyObject *result,
                       PyObject **types, PyObject **ids, size_t num_types) {
    static const char *const names[] = {"edge_type", "src_index", "dest_index", "features"};
    size_t index, max;
    yyjson_val *entry;
    PyObject *seen = PySet_New(NULL);
    if (seen == NULL) {
        return FAILED;
    }
    int status = OK;
    yyjson_arr_foreach(entries, index, max, entry) {
        yyjson_val *values[4];
        size_t src_at, dst_at;
        PyObject *etype = NULL, *src = NULL, *dst = NULL, *src_local = NULL, *dst_local = NULL, *features = NULL;
        status = entry_keys(entry, names, 4, values) == OK && yyjson_is_arr(values[0]) &&
            yyjson_arr_size(values[0]) == 3 && position(values[1], columns, num_columns, &src_at) == OK &&
            position(values[2], columns, num_columns, &dst_at) == OK && columns[src_at].rows > 0 &&
            columns[src_at].rows == columns[dst_at].rows && PySet_GET_SIZE(seen) < MAX_GROUPS ? OK : DECLINE;
        if (status == OK) {
            status = (etype = PyTuple_New(3)) == NULL ? FAILED : OK;
        }
        for (size_t p = 0; status == OK && p < 3; p++) {
            PyObject *part;
            status = name_str(yyjson_arr_get(values[0], p), &part);
            if (status == OK) {
                PyTuple_SET_ITEM(etype, (Py_ssize_t)p, part);
            }
        }
        if (status == OK) {
            int known = PySet_Contains(seen, etype);
            status = known < 0 ? FAILED : known ? DECLINE : PySet_Add(seen, etype) < 0 ? FAILED : OK;
        }
        int src_type = -1, dst_type = -1;
        if (status == OK) {
            src_type = node_type_index(PyTuple_GET_ITEM(etype, 0), types, num_types);
            dst_type = node_type_index(PyTuple_GET_ITEM(etype, 2), types, num_types);
            status = src_type < 0 || dst_type < 0 ? DECLINE : OK;
        }
        if (status == OK) {
            status = endpoints(&columns[src_at], ids[src_type], &src, &src_local);
        }
        if (status == OK) {
            status = endpoints(&columns[dst_at], ids[dst_type], &dst, &dst_local);
        }
        if (status == OK) {
            status = features_result(values[3], columns, num_columns, columns[src_at].rows, &features);
        }
        if (status == OK) {
            PyObject *group = Py_BuildValue("(OOOO(OO))", etype, src, dst, features, src_local, dst_local);
            status = group == NULL ? FAILED : PyList_Append(result, group) < 0 ? FAILED : OK;
            Py_XDECREF(group);
        }
        Py_XDECREF(etype);
        Py_XDECREF(src);
        Py_XDECREF(dst);
        Py_XDECREF(src_local);
        Py_XDECREF(dst_local);
        Py_XDECREF(features);
        if (status != OK) {
            break;
        }
    }
    Py_DECREF(seen);
    return status;
}

/* The request's groups from its layout (``{"nodes": [...], "edges": [...]}``). */
static int layout_groups(yyjson_val *root, ArrowColumn *columns, size_t num_columns, PyObject *nodes,
                         PyObject *edges) {
    static const char *const names[] = {"nodes", "edges"};
    yyjson_val *values[2];
    if (entry_keys(root, names, 2, values) != OK || !yyjson_is_arr(values[0]) || !yyjson_is_arr(values[1])) {
        return DECLINE;
    }
    PyObject *types[MAX_GROUPS], *ids[MAX_GROUPS];
    size_t num_types;
    int status = node_groups(values[0], columns, num_columns, nodes, types, ids, &num_types);
    return status == OK ? edge_groups(values[1], columns, num_columns, edges, types, ids, num_types) : status;
}

/* The whole body: two messages and the end (the end-of-stream marker, or nothing). */
static int read_body(const uint8_t *data, size_t size, PyObject **result) {
    size_t at = 0, num_columns = 0;
    Message schema, batch;
    ArrowColumn *columns = NULL;
    Bytes request, layout;
    int status = read_message(data, size, &at, &schema);
    if (status == OK) {
        status = read_schema(&schema, &columns, &num_columns, &request, &layout);
    }
    if (status == OK) {
        status = read_message(data, size, &at, &batch);
    }
    if (status == OK && at != size && !(size - at == 8 && load_u32(data + at) == CONTINUATION &&
                                        load_u32(data + at + 4) == 0)) {
        status = DECLINE;
    }
    if (status == OK) {
        status = read_batch(&batch, columns, num_columns);
    }
    yyjson_doc *request_doc = NULL, *layout_doc = NULL;
    if (status == OK) {
        request_doc = yyjson_read((const char *)request.text, request.len, YYJSON_READ_NOFLAG);
        layout_doc = yyjson_read((const char *)layout.text, layout.len, YYJSON_READ_NOFLAG);
        status = request_doc == NULL || layout_doc == NULL ? DECLINE : OK;
    }
    PyObject *fields = NULL, *targets = NULL, *nodes = NULL, *edges = NULL;
    if (status == OK) {
        fields = PyDict_New();
        nodes = PyList_New(0);
        edges = PyList_New(0);
        status = fields == NULL || nodes == NULL || edges == NULL ? FAILED : OK;
    }
    if (status == OK) {
        yyjson_val *graph;
        status = json_request_fields(yyjson_doc_get_root(request_doc), fields, &targets, &graph);
        if (status == OK && (graph != NULL || !PyList_CheckExact(targets))) {
            status = DECLINE;  /* pyarrow's route keeps a "graph" among the envelope's fields */
        }
    }
    if (status == OK) {
        status = layout_groups(yyjson_doc_get_root(layout_doc), columns, num_columns, nodes, edges);
    }
    if (status == OK) {
        status = unread_strings_valid(columns, num_columns);
    }
    if (status == OK && (*result = PyTuple_Pack(4, fields, targets, nodes, edges)) == NULL) {
        status = FAILED;
    }
    yyjson_doc_free(request_doc);
    yyjson_doc_free(layout_doc);
    PyMem_Free(columns);
    Py_XDECREF(fields);
    Py_XDECREF(targets);
    Py_XDECREF(nodes);
    Py_XDECREF(edges);
    return status;
}

PyObject *arrow_columns(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *body;
    if (!PyArg_ParseTuple(args, "O:arrow_columns", &body)) {
        return NULL;
    }
    PyObject *result = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    int status = DECLINE;  /* the values are read as the little-endian bytes the format has */
#else
    /* Immutable bytes only: the checks are made before the values are read, and Python code
     * (a finaliser run by an allocation) could change a writable buffer in between. */
    int status = !PyBytes_CheckExact(body) ? DECLINE :
        read_body((const uint8_t *)PyBytes_AS_STRING(body), (size_t)PyBytes_GET_SIZE(body), &result);
#endif
    if (status == DECLINE) {
        Py_RETURN_NONE;
    }
    return result;  /* NULL with the Python error when FAILED */
}
