/* body_hash.c: a request body's SHA-256 on a helper thread (registered by _fastpath.c). */
#ifndef GS_BODY_HASH_H
#define GS_BODY_HASH_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* sha256_start(body: bytes) -> Sha256Job | None (None: no libcrypto SHA256, or not exact bytes) */
PyObject *sha256_start(PyObject *self, PyObject *args);

/* Adds the Sha256Job type to the module; -1 with an exception set on failure. */
int body_hash_init(PyObject *module);

#endif
