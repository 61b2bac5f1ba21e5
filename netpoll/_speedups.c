/* netpoll._speedups: the optional C accelerator for the steps of the I/O
 * hot path that never park a goroutine (see netpoll/speedups.py).
 *
 *   epoll_dispatch  one epoll_wait, and for each event the fd -> PollDesc
 *                   lookup and PollDesc.netpollready's state change
 *                   (poller/epoll.py's loop, in one call)
 *   write_fast      FD.write when the write lock is free and the socket
 *                   takes the bytes at once (internal/fd.py)
 *   read            os.read for a non-blocking descriptor: None instead of
 *                   raising BlockingIOError, and the GIL kept
 *
 * The rule that shapes it: no function here ever switches greenlets or
 * calls code that may park, so no C frame of this module is ever on a
 * parked goroutine's stack (greenlet would copy it at every switch and keep
 * it per idle connection; bench/CYTHON-EXPERIMENT.md).  Whatever would
 * park, or is not the plain case, is left to the pure-Python code, which
 * stays the reference: every function here either does exactly what the
 * Python code does, or returns a value that sends the caller down the
 * Python path before anything observable happened.
 *
 * PollDesc and FD are Python classes with __slots__; their slots are read
 * at the offsets of their member descriptors, looked up by name once
 * (setup_polldesc / setup_fd).  An object of another type (a subclass, a
 * test's stand-in) takes the Python path.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/epoll.h>
#endif
#include "pythread.h"

/* Mirrors of netpoll.poller's MODE_* and netpoll.internal.fdmutex's bits;
 * setup_fd checks the latter against the Python values. */
#define MODE_READ 1
#define MODE_WRITE 2
#define MODE_HUP 4
#define FD_CLOSED 1
#define FD_WLOCK 4

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* PollDesc: its type, the READY sentinel, and the slots used here. */
static PyTypeObject *pd_type;
static PyObject *pd_ready;              /* READY */
static PyObject *pd_netpollready;       /* the class's own netpollready */
static Py_ssize_t pd_g = -1, pd_hup = -1, pd_runq = -1, pd_closing = -1, pd_d = -1;

/* FD: its type and the slots write_fast uses. */
static PyTypeObject *fd_type;
static Py_ssize_t fd_state = -1, fd_tid = -1, fd_sysfd = -1, fd_pd = -1,
                  fd_write_waiters = -1;

static PyObject *str_netpollready, *str_append, *int_zero;

/* An int argument as a C int (_PyLong_AsInt is gone in 3.13). */
static int
as_int(PyObject *o)
{
    long v = PyLong_AsLong(o);
    if (v == -1 && PyErr_Occurred())
        return -1;
    if (v < INT_MIN || v > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "descriptor number out of range");
        return -1;
    }
    return (int)v;
}

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* The offset of the object slot ``name`` of ``tp`` (a __slots__ member). */
static Py_ssize_t
slot_offset(PyTypeObject *tp, const char *name)
{
    PyObject *d = PyObject_GetAttrString((PyObject *)tp, name);
    if (d == NULL)
        return -1;
    if (!Py_IS_TYPE(d, &PyMemberDescr_Type)) {
        Py_DECREF(d);
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member",
                     tp->tp_name, name);
        return -1;
    }
    PyMemberDef *m = ((PyMemberDescrObject *)d)->d_member;
    Py_ssize_t off = m->offset;
    int ok = m->type == T_OBJECT_EX || m->type == T_OBJECT;
    Py_DECREF(d);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not an object slot", tp->tp_name, name);
        return -1;
    }
    return off;
}

/* setup_polldesc(PollDesc, READY): learn the PollDesc layout. */
static PyObject *
setup_polldesc(PyObject *mod, PyObject *args)
{
    PyObject *tp, *ready;
    if (!PyArg_ParseTuple(args, "O!O", &PyType_Type, &tp, &ready))
        return NULL;
    PyTypeObject *t = (PyTypeObject *)tp;
    Py_ssize_t g, hup, runq, closing, d;
    if ((g = slot_offset(t, "g")) < 0 || (hup = slot_offset(t, "hup")) < 0 ||
        (runq = slot_offset(t, "runq")) < 0 || (closing = slot_offset(t, "closing")) < 0 ||
        (d = slot_offset(t, "d")) < 0)
        return NULL;
    /* The class's own netpollready, as defined: epoll_dispatch does its
     * state change itself only while the class still has this one (a test
     * that wraps it, for instance, gets its wrapper called). */
    PyObject *f = PyDict_GetItemString(t->tp_dict, "netpollready");
    if (f == NULL) {
        PyErr_SetString(PyExc_TypeError, "PollDesc has no netpollready");
        return NULL;
    }
    Py_INCREF(tp);
    Py_XSETREF(pd_type, t);
    Py_INCREF(ready);
    Py_XSETREF(pd_ready, ready);
    Py_INCREF(f);
    Py_XSETREF(pd_netpollready, f);
    pd_g = g, pd_hup = hup, pd_runq = runq, pd_closing = closing, pd_d = d;
    Py_RETURN_NONE;
}

/* setup_fd(FD, CLOSED, WLOCK): learn the FD layout. */
static PyObject *
setup_fd(PyObject *mod, PyObject *args)
{
    PyObject *tp;
    long closed, wlock;
    if (!PyArg_ParseTuple(args, "O!ll", &PyType_Type, &tp, &closed, &wlock))
        return NULL;
    if (closed != FD_CLOSED || wlock != FD_WLOCK) {
        PyErr_SetString(PyExc_ValueError, "FDMutex's bits differ from _speedups.c's");
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)tp;
    Py_ssize_t state, tid, sysfd, pd, ww;
    if ((state = slot_offset(t, "state")) < 0 || (tid = slot_offset(t, "tid")) < 0 ||
        (sysfd = slot_offset(t, "sysfd")) < 0 || (pd = slot_offset(t, "pd")) < 0 ||
        (ww = slot_offset(t, "write_waiters")) < 0)
        return NULL;
    Py_INCREF(tp);
    Py_XSETREF(fd_type, t);
    fd_state = state, fd_tid = tid, fd_sysfd = sysfd, fd_pd = pd, fd_write_waiters = ww;
    Py_RETURN_NONE;
}

/* ---- the poller -------------------------------------------------------- */

#ifdef __linux__

#define EV_READ (EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define EV_WRITE (EPOLLOUT | EPOLLHUP | EPOLLERR)
#define EV_HUP (EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR)
#define MAX_EVENTS 1024

/* One direction of PollDesc.netpollready: wake the waiter or latch READY. */
static int
ready_slot(PyObject *gs, Py_ssize_t i, PyObject *runq)
{
    PyObject *g = PyList_GET_ITEM(gs, i);
    if (g == pd_ready)
        return 0;
    Py_INCREF(pd_ready);
    PyList_SET_ITEM(gs, i, pd_ready);     /* the list's reference to g is ours now */
    int rc = 0;
    if (g != Py_None) {
        PyObject *r = PyObject_CallMethodOneArg(runq, str_append, g);
        if (r == NULL)
            rc = -1;
        Py_XDECREF(r);
    }
    Py_DECREF(g);
    return rc;
}

/* PollDesc.netpollready(mode), for a PollDesc whose class is unchanged. */
static int
netpollready_direct(PyObject *pd, int mode)
{
    PyObject *gs = SLOT(pd, pd_g), *runq = SLOT(pd, pd_runq);
    if (gs == NULL || runq == NULL || !PyList_CheckExact(gs) || PyList_GET_SIZE(gs) < 3)
        return 1;                         /* not the plain case: call the method */
    Py_INCREF(gs);
    Py_INCREF(runq);
    int rc = 0;
    if (mode & MODE_READ) {
        if (mode & MODE_HUP) {
            PyObject *old = SLOT(pd, pd_hup);
            Py_INCREF(Py_True);
            SLOT(pd, pd_hup) = Py_True;
            Py_XDECREF(old);
        }
        rc = ready_slot(gs, 1, runq);
    }
    if (rc == 0 && mode & MODE_WRITE)
        rc = ready_slot(gs, 2, runq);
    Py_DECREF(gs);
    Py_DECREF(runq);
    return rc;
}

/* epoll_dispatch(epfd, timeout, pds, wakeup_fd) -> n
 *
 * One epoll_wait (timeout in seconds: None waits without limit, 0 does not
 * block; rounded up to whole milliseconds, as select.epoll.poll does), then
 * pds[fd].netpollready(mode) for every event of a registered descriptor.
 * Returns the number of those events, or ~n (negative) if the wake-up
 * descriptor was among the events (the caller drains it).  EINTR runs the
 * signal handlers and returns 0 (or raises what a handler raised).  The GIL
 * is released only for a wait that may block. */
static PyObject *
epoll_dispatch(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "epoll_dispatch(epfd, timeout, pds, wakeup_fd)");
        return NULL;
    }
    int epfd = as_int(args[0]);
    if (epfd == -1 && PyErr_Occurred())
        return NULL;
    int ms;
    if (args[1] == Py_None) {
        ms = -1;
    } else {
        double t = PyFloat_AsDouble(args[1]);
        if (t == -1.0 && PyErr_Occurred())
            return NULL;
        if (!(t > 0.0))                   /* 0, negative or nan: do not block */
            ms = 0;
        else if (t >= 1e6)                /* poller.MAX_WAIT */
            ms = 1000000000;
        else
            ms = (int)ceil(t * 1e3);
    }
    PyObject *pds = args[2];
    if (!PyDict_CheckExact(pds)) {
        PyErr_SetString(PyExc_TypeError, "pds must be a dict");
        return NULL;
    }
    long wakeup_fd = PyLong_AsLong(args[3]);
    if (wakeup_fd == -1 && PyErr_Occurred())
        return NULL;

    struct epoll_event evs[MAX_EVENTS];
    int n;
    if (ms == 0) {
        n = epoll_wait(epfd, evs, MAX_EVENTS, 0);   /* never blocks: keep the GIL */
    } else {
        Py_BEGIN_ALLOW_THREADS
        n = epoll_wait(epfd, evs, MAX_EVENTS, ms);
        Py_END_ALLOW_THREADS
    }
    if (n < 0) {
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0)
                return NULL;
            return PyLong_FromLong(0);
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    /* The class's netpollready is its own: do its state change here. */
    int direct = pd_type != NULL &&
                 _PyType_Lookup(pd_type, str_netpollready) == pd_netpollready;
    long delivered = 0;
    int woken = 0;
    for (int i = 0; i < n; i++) {
        int fd = evs[i].data.fd;
        uint32_t ev = evs[i].events;
        PyObject *key = PyLong_FromLong(fd);
        if (key == NULL)
            return NULL;
        PyObject *pd = PyDict_GetItemWithError(pds, key);    /* borrowed */
        Py_DECREF(key);
        if (pd == NULL) {
            if (PyErr_Occurred())
                return NULL;
            if (fd == wakeup_fd)          /* not a PollDesc's: the wake-up descriptor */
                woken = 1;
            continue;
        }
        int mode = 0;
        if (ev & EV_READ)
            mode = ev & EV_HUP ? MODE_READ | MODE_HUP : MODE_READ;
        if (ev & EV_WRITE)
            mode |= MODE_WRITE;
        delivered++;
        Py_INCREF(pd);
        int rc = 1;
        if (direct && Py_IS_TYPE(pd, pd_type))
            rc = netpollready_direct(pd, mode);
        if (rc > 0) {                     /* another class, or not the plain case */
            PyObject *m = PyLong_FromLong(mode);
            PyObject *r = m ? PyObject_CallMethodOneArg(pd, str_netpollready, m) : NULL;
            Py_XDECREF(m);
            rc = r ? 0 : -1;
            Py_XDECREF(r);
        }
        Py_DECREF(pd);
        if (rc < 0)
            return NULL;
    }
    return PyLong_FromLong(woken ? ~delivered : delivered);
}

#endif /* __linux__ */

/* ---- reads and writes -------------------------------------------------- */

/* read(fd, n) -> bytes, or None if the descriptor has nothing (EAGAIN).
 * os.read for a non-blocking descriptor: the system call never blocks, so
 * the GIL is kept; EINTR runs the signal handlers and retries (PEP 475).
 *
 * Speed trick: a request of up to SMALL_READ bytes is read into a buffer
 * of this module and copied into a bytes object of exactly the size that
 * arrived (os.read allocates n bytes and shrinks them: for a 64-byte
 * message out of a 4 KiB request that is a libc malloc + realloc + free,
 * which glibc makes dearer still by consolidating its free lists for
 * every large request; an exact small size comes from pymalloc).  The
 * buffer is shared safely: the GIL is held from the read to the copy. */
#define SMALL_READ 16384
static char small_buf[SMALL_READ];

static PyObject *
sp_read(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "read(fd, n)");
        return NULL;
    }
    int fd = as_int(args[0]);
    if (fd == -1 && PyErr_Occurred())
        return NULL;
    Py_ssize_t n = PyLong_AsSsize_t(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "negative read size");
        return NULL;
    }
    PyObject *b = NULL;
    char *buf = small_buf;
    if (n > SMALL_READ) {             /* a big read goes straight into its bytes */
        b = PyBytes_FromStringAndSize(NULL, n);
        if (b == NULL)
            return NULL;
        buf = PyBytes_AS_STRING(b);
    }
    ssize_t got;
    for (;;) {
        got = read(fd, buf, (size_t)n);
        if (got >= 0)
            break;
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0) {
                Py_XDECREF(b);
                return NULL;
            }
            continue;
        }
        Py_XDECREF(b);
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            Py_RETURN_NONE;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (b == NULL)
        return PyBytes_FromStringAndSize(small_buf, got);
    if (got != n && _PyBytes_Resize(&b, got) < 0)
        return NULL;
    return b;
}

/* write_fast(fd, data) -> int or None
 *
 * FD.write's whole fast path, for an FD of the class setup_fd learnt whose
 * write lock is free with no writer queued, called from its own thread,
 * with its PollDesc not closing and no passed write deadline, and ``data``
 * a bytes object: one send(MSG_NOSIGNAL), GIL kept (the socket is
 * non-blocking).
 *
 *   len(data)  all of it was sent (0 for b"": nothing to send)
 *   ~k         (negative) only k bytes fit, k >= 0: the caller sends the
 *              rest the Python way, parking while the buffer is full
 *   None       not the plain case, or EINTR: nothing was sent; the caller
 *              runs the Python path, which re-checks everything
 *
 * The write lock is not taken: nothing else runs during this call (one OS
 * thread per runtime, no switch here), so taking and releasing it around
 * the send would leave no trace.  A send error raises OSError as
 * socket.send does. */
static PyObject *
write_fast(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "write_fast(fd, data)");
        return NULL;
    }
    PyObject *fd = args[0], *data = args[1];
    if (fd_type == NULL || !Py_IS_TYPE(fd, fd_type) || !PyBytes_CheckExact(data) ||
        pd_type == NULL)
        Py_RETURN_NONE;
    PyObject *state = SLOT(fd, fd_state), *tid = SLOT(fd, fd_tid), *sysfd = SLOT(fd, fd_sysfd),
             *pd = SLOT(fd, fd_pd), *ww = SLOT(fd, fd_write_waiters);
    if (state == NULL || tid == NULL || sysfd == NULL || pd == NULL || ww == NULL ||
        !PyLong_CheckExact(state) || !PyLong_CheckExact(tid) || !PyLong_CheckExact(sysfd) ||
        !Py_IS_TYPE(pd, pd_type))
        Py_RETURN_NONE;
    long s = PyLong_AsLong(state);
    if (s == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (s & (FD_CLOSED | FD_WLOCK) || (ww != Py_None && !(PyList_CheckExact(ww) &&
                                                          PyList_GET_SIZE(ww) == 0)))
        Py_RETURN_NONE;
    unsigned long t = PyLong_AsUnsignedLong(tid);
    if (t == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (t != PyThread_get_thread_ident())
        Py_RETURN_NONE;                   /* the Python path raises RuntimeError */
    PyObject *closing = SLOT(pd, pd_closing), *d = SLOT(pd, pd_d);
    if (closing != Py_False || d == NULL || !PyList_CheckExact(d) || PyList_GET_SIZE(d) < 3)
        Py_RETURN_NONE;
    PyObject *wd = PyList_GET_ITEM(d, MODE_WRITE);
    /* No deadline (the int 0: small ints are shared objects) or one not passed yet (a positive float). */
    if (!(wd == int_zero ||
          (PyFloat_CheckExact(wd) && PyFloat_AS_DOUBLE(wd) > 0.0)))
        Py_RETURN_NONE;
    int sfd = as_int(sysfd);
    if (sfd == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    Py_ssize_t total = PyBytes_GET_SIZE(data);
    if (total == 0)
        return PyLong_FromLong(0);
    ssize_t n = send(sfd, PyBytes_AS_STRING(data), (size_t)total, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return PyLong_FromLong(~0L);
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0)
                return NULL;
            Py_RETURN_NONE;
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (n == total)
        return PyLong_FromSsize_t(n);
    return PyLong_FromSsize_t(~(Py_ssize_t)n);
}

static PyMethodDef methods[] = {
    {"setup_polldesc", setup_polldesc, METH_VARARGS, "setup_polldesc(PollDesc, READY)"},
    {"setup_fd", setup_fd, METH_VARARGS, "setup_fd(FD, CLOSED, WLOCK)"},
#ifdef __linux__
    {"epoll_dispatch", (PyCFunction)(void (*)(void))epoll_dispatch, METH_FASTCALL,
     "epoll_dispatch(epfd, timeout, pds, wakeup_fd) -> n, ~n if woken"},
#endif
    {"read", (PyCFunction)(void (*)(void))sp_read, METH_FASTCALL,
     "read(fd, n) -> bytes, None on EAGAIN"},
    {"write_fast", (PyCFunction)(void (*)(void))write_fast, METH_FASTCALL,
     "write_fast(fd, data) -> len(data), ~sent, or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef moduledef = {
    PyModuleDef_HEAD_INIT, "netpoll._speedups",
    "The optional C accelerator of netpoll's I/O hot path (see netpoll/speedups.py).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    str_netpollready = PyUnicode_InternFromString("netpollready");
    str_append = PyUnicode_InternFromString("append");
    int_zero = PyLong_FromLong(0);
    if (str_netpollready == NULL || str_append == NULL || int_zero == NULL)
        return NULL;
    return PyModule_Create(&moduledef);
}
