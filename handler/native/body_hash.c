/* A request body's SHA-256 on a helper thread, so that the hash (GraphStorm's request_uid, ~0.55
 * ns a byte) runs beside the request's decode, parse, build and forward instead of before them.
 *
 * The hash is OpenSSL's one-shot SHA256() from the libcrypto Python's own hashlib has loaded
 * (found with dlopen(RTLD_NOLOAD): no second OpenSSL, no build-time headers). The helper is one
 * plain pthread that never touches Python: a job holds a reference to its bytes object (immutable,
 * so the buffer is stable) and the thread only reads the buffer and writes the 32-byte digest.
 * A Python thread on a job would need the GIL to start and to finish, and those hand-offs cost
 * about what the hash does (docs/performance.md, round 2, seventh session).
 *
 * Fork: the helper does not exist in a child; jobs queued or running at the fork are hashed by
 * the caller of hexdigest() in the child, and the next job starts a new helper there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "body_hash.h"

typedef unsigned char *(*sha256_fn)(const unsigned char *data, size_t len, unsigned char *md);

enum { QUEUED, RUNNING, DONE, ORPHANED };

typedef struct Sha256Job {
    PyObject_HEAD
    PyObject *body;          /* owned: the bytes hashed */
    int state;               /* guarded by lock */
    unsigned char md[32];    /* written by the helper before state becomes DONE */
    struct Sha256Job *next;  /* queue link, guarded by lock */
} Sha256Job;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t work_ready = PTHREAD_COND_INITIALIZER;
static pthread_cond_t job_done = PTHREAD_COND_INITIALIZER;
static Sha256Job *queue_head, *queue_tail, *running;
static int helper_started, atfork_registered;
static sha256_fn sha256;  /* NULL until found */
static int sha256_looked_up;

static void hash_job(Sha256Job *job) {
    sha256((const unsigned char *)PyBytes_AS_STRING(job->body), (size_t)PyBytes_GET_SIZE(job->body), job->md);
}

static void *helper_main(void *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);
    for (;;) {
        while (queue_head == NULL) {
            pthread_cond_wait(&work_ready, &lock);
        }
        Sha256Job *job = queue_head;
        queue_head = job->next;
        if (queue_head == NULL) {
            queue_tail = NULL;
        }
        job->next = NULL;
        job->state = RUNNING;
        running = job;
        pthread_mutex_unlock(&lock);
        hash_job(job);
        pthread_mutex_lock(&lock);
        running = NULL;
        if (job->state == RUNNING) {
            job->state = DONE;
        }
        pthread_cond_broadcast(&job_done);
    }
    return NULL;
}

static void before_fork(void) { pthread_mutex_lock(&lock); }

static void after_fork_parent(void) { pthread_mutex_unlock(&lock); }

static void after_fork_child(void) {
    /* Only this thread exists: every unfinished job is the caller's to hash. */
    for (Sha256Job *job = queue_head; job != NULL;) {
        Sha256Job *next = job->next;
        job->next = NULL;
        job->state = ORPHANED;
        job = next;
    }
    if (running != NULL) {
        running->state = ORPHANED;
    }
    queue_head = queue_tail = running = NULL;
    helper_started = 0;
    /* The conditions may still count the parent's waiters (the helper, Python threads): new ones. */
    pthread_cond_init(&work_ready, NULL);
    pthread_cond_init(&job_done, NULL);
    pthread_mutex_unlock(&lock);  /* locked by before_fork, in this (the forking) thread */
}

/* Called with the lock held. 0 when the helper runs (or ran), -1 when it could not start. */
static int start_helper(void) {
    if (helper_started) {
        return 0;
    }
    if (!atfork_registered) {
        if (pthread_atfork(before_fork, after_fork_parent, after_fork_child) != 0) {
            return -1;
        }
        atfork_registered = 1;
    }
    /* Signals stay with Python's threads: the helper blocks them all. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t thread;
    int failed = pthread_create(&thread, &attr, helper_main, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (failed) {
        return -1;
    }
    helper_started = 1;
    return 0;
}

static int find_sha256(void) {
    if (!sha256_looked_up) {
        sha256_looked_up = 1;
        const char *names[] = {"libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && sha256 == NULL; i++) {
            void *lib = dlopen(names[i], RTLD_NOW | RTLD_NOLOAD);
            if (lib != NULL) {
                sha256 = (sha256_fn)dlsym(lib, "SHA256");
            }
        }
    }
    return sha256 != NULL;
}

static void job_dealloc(Sha256Job *job) {
    /* The helper may be reading the body: wait for it, or take the job off the queue. */
    pthread_mutex_lock(&lock);
    if (job->state == QUEUED) {
        Sha256Job **link = &queue_head, *previous = NULL;
        while (*link != NULL && *link != job) {
            previous = *link;
            link = &(*link)->next;
        }
        if (*link == job) {
            *link = job->next;
            if (queue_tail == job) {
                queue_tail = previous;
            }
        }
        job->state = ORPHANED;
    }
    while (job->state == RUNNING) {
        pthread_cond_wait(&job_done, &lock);
    }
    pthread_mutex_unlock(&lock);
    Py_XDECREF(job->body);
    Py_TYPE(job)->tp_free((PyObject *)job);
}

static PyObject *job_hexdigest(Sha256Job *job, PyObject *unused) {
    (void)unused;
    pthread_mutex_lock(&lock);  /* held briefly by the helper, never while it hashes */
    int state = job->state;
    pthread_mutex_unlock(&lock);
    if (state != DONE) {  /* the usual case is done: the GIL is released only to wait or hash */
        Py_BEGIN_ALLOW_THREADS
        pthread_mutex_lock(&lock);
        while (job->state == QUEUED || job->state == RUNNING) {
            pthread_cond_wait(&job_done, &lock);
        }
        state = job->state;
        pthread_mutex_unlock(&lock);
        if (state == ORPHANED) {
            hash_job(job);
            job->state = DONE;  /* no helper knows of this job any more */
        }
        Py_END_ALLOW_THREADS
    }
    static const char hex[] = "0123456789abcdef";
    char text[64];
    for (int i = 0; i < 32; i++) {
        text[2 * i] = hex[job->md[i] >> 4];
        text[2 * i + 1] = hex[job->md[i] & 15];
    }
    return PyUnicode_FromStringAndSize(text, 64);
}

static PyMethodDef job_methods[] = {
    {"hexdigest", (PyCFunction)job_hexdigest, METH_NOARGS,
     "hexdigest() -> str: the body's SHA-256 in lower-case hex (waits for the helper thread)."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject Sha256JobType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "handler.native._fastpath.Sha256Job",
    .tp_basicsize = sizeof(Sha256Job),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A body's SHA-256, computed on the helper thread (sha256_start).",
    .tp_dealloc = (destructor)job_dealloc,
    .tp_methods = job_methods,
};

PyObject *sha256_start(PyObject *self, PyObject *args) {
    (void)self;
    PyObject *body;
    if (!PyArg_ParseTuple(args, "O:sha256_start", &body)) {
        return NULL;
    }
    if (!PyBytes_CheckExact(body) || !find_sha256()) {
        Py_RETURN_NONE;
    }
    Sha256Job *job = PyObject_New(Sha256Job, &Sha256JobType);
    if (job == NULL) {
        return NULL;
    }
    Py_INCREF(body);
    job->body = body;
    job->next = NULL;
    pthread_mutex_lock(&lock);
    if (start_helper() < 0) {
        job->state = ORPHANED;  /* hexdigest() hashes it */
    } else {
        job->state = QUEUED;
        if (queue_tail != NULL) {
            queue_tail->next = job;
        } else {
            queue_head = job;
        }
        queue_tail = job;
        pthread_cond_signal(&work_ready);
    }
    pthread_mutex_unlock(&lock);
    return (PyObject *)job;
}

int body_hash_init(PyObject *module) {
    if (PyType_Ready(&Sha256JobType) < 0) {
        return -1;
    }
    Py_INCREF(&Sha256JobType);
    if (PyModule_AddObject(module, "Sha256Job", (PyObject *)&Sha256JobType) < 0) {
        Py_DECREF(&Sha256JobType);
        return -1;
    }
    return 0;
}
