/* netpoll._speedups: the optional C accelerator for the steps of the I/O
 * hot path that never park a goroutine (see netpoll/speedups.py).
 *
 *   epoll_dispatch  one epoll_wait, and for each event the fd -> PollDesc
 *                   lookup and PollDesc.netpollready's state change
 *                   (poller/epoll.py's loop, in one call)
 *   write_fast      FD.write when the write lock is free and the socket
 *                   takes the bytes at once (internal/fd.py)
 *   read_fast       FD.read up to the point where it would park; if it
 *                   must, it also does PollDesc.wait's steps before the
 *                   switch (records the goroutine as the waiter, picks
 *                   whom to switch to) and returns that greenlet: the
 *                   Python frame makes the switch itself
 *   read_woke       after that switch: PollDesc.wait's steps after it and
 *                   the read (or the next park, after a spurious edge)
 *   read_resume     the read after a park the Python way (PollDesc.wait)
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
                  fd_write_waiters = -1, fd_read_waiters = -1, fd_rsize = -1,
                  fd_streak = -1, fd_drain_hint = -1;
/* FDMutex's bits and fd.py's constants, as setup_fd was given them. */
static long b_closed, b_rlock, b_wlock, b_rshut, b_drained, b_ref;
static long read_min, read_max, fair_reads;

/* Runtime and Worker (runtime/scheduler.py, runtime/goroutine.py): the
 * slots of the park's steps, and greenlet.getcurrent (setup_park). */
static PyTypeObject *rt_type, *worker_type;
static Py_ssize_t pd_rt = -1, rt_batch = -1, rt_nwait = -1, rt_closed = -1, rt_hub = -1,
                  rt_level = -1, w_waitreason = -1;
static PyObject *getcurrent;

/* collections.deque and its append and popleft (method descriptors):
 * speed trick: calling a descriptor skips the method lookup by name. */
static PyTypeObject *deque_type;
static PyObject *deque_append, *deque_popleft;

static PyObject *str_netpollready, *str_append, *str_popleft, *str_waitreason,
                *str_io_wait, *int_zero;

/* PyLong_AsLong, with the common case inline.
 * Speed trick: the FD's slots and the sizes read here are small ints;
 * converting one through PyLong_AsLong costs ~30 instructions, a dozen
 * times per echoed message (callgrind), where reading its one digit
 * costs two. */
static inline long
long_value(PyObject *v)
{
    if (PyLong_CheckExact(v)) {
#if PY_VERSION_HEX >= 0x030C0000
        if (PyUnstable_Long_IsCompact((PyLongObject *)v))
            return (long)PyUnstable_Long_CompactValue((PyLongObject *)v);
#else
        Py_ssize_t size = Py_SIZE(v);
        if (size == 0)
            return 0;
        if (size == 1)
            return (long)((PyLongObject *)v)->ob_digit[0];
#endif
    }
    return PyLong_AsLong(v);
}

/* An int argument as a C int (_PyLong_AsInt is gone in 3.13). */
static int
as_int(PyObject *o)
{
    long v = long_value(o);
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
        (d = slot_offset(t, "deadline")) < 0)
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

/* setup_fd(FD, CLOSED, RLOCK, WLOCK, RSHUT, DRAINED, REF, READ_MIN, READ_MAX,
 * FAIR_READS): learn the FD layout and fd.py's constants. */
static PyObject *
setup_fd(PyObject *mod, PyObject *args)
{
    PyObject *tp;
    long c[9];
    if (!PyArg_ParseTuple(args, "O!lllllllll", &PyType_Type, &tp, &c[0], &c[1], &c[2], &c[3],
                          &c[4], &c[5], &c[6], &c[7], &c[8]))
        return NULL;
    if (c[0] != FD_CLOSED || c[2] != FD_WLOCK) {
        PyErr_SetString(PyExc_ValueError, "FDMutex's bits differ from _speedups.c's");
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)tp;
    Py_ssize_t state, tid, sysfd, pd, ww, rw, rsize, streak, hint;
    if ((state = slot_offset(t, "state")) < 0 || (tid = slot_offset(t, "tid")) < 0 ||
        (sysfd = slot_offset(t, "sysfd")) < 0 || (pd = slot_offset(t, "pd")) < 0 ||
        (ww = slot_offset(t, "write_waiters")) < 0 ||
        (rw = slot_offset(t, "read_waiters")) < 0 || (rsize = slot_offset(t, "rsize")) < 0 ||
        (streak = slot_offset(t, "streak")) < 0 || (hint = slot_offset(t, "drain_hint")) < 0)
        return NULL;
    Py_INCREF(tp);
    Py_XSETREF(fd_type, t);
    fd_state = state, fd_tid = tid, fd_sysfd = sysfd, fd_pd = pd, fd_write_waiters = ww;
    fd_read_waiters = rw, fd_rsize = rsize, fd_streak = streak, fd_drain_hint = hint;
    b_closed = c[0], b_rlock = c[1], b_wlock = c[2], b_rshut = c[3], b_drained = c[4];
    b_ref = c[5], read_min = c[6], read_max = c[7], fair_reads = c[8];
    Py_RETURN_NONE;
}

/* setup_park(Runtime, Worker, getcurrent): learn the slots of PollDesc.wait's
 * steps (call after setup_polldesc). */
static PyObject *
setup_park(PyObject *mod, PyObject *args)
{
    PyObject *rtp, *wp, *gc;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyType_Type, &rtp, &PyType_Type, &wp, &gc))
        return NULL;
    if (pd_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "setup_park before setup_polldesc");
        return NULL;
    }
    PyTypeObject *r = (PyTypeObject *)rtp, *w = (PyTypeObject *)wp;
    Py_ssize_t prt, batch, nwait, closed, hub, level, reason;
    if ((prt = slot_offset(pd_type, "rt")) < 0 || (batch = slot_offset(r, "batch")) < 0 ||
        (nwait = slot_offset(r, "nwait")) < 0 || (closed = slot_offset(r, "closed")) < 0 ||
        (hub = slot_offset(r, "hub")) < 0 || (level = slot_offset(r, "level_triggered")) < 0 ||
        (reason = slot_offset(w, "waitreason")) < 0)
        return NULL;
    Py_INCREF(r);
    Py_XSETREF(rt_type, r);
    Py_INCREF(w);
    Py_XSETREF(worker_type, w);
    Py_INCREF(gc);
    Py_XSETREF(getcurrent, gc);
    pd_rt = prt, rt_batch = batch, rt_nwait = nwait, rt_closed = closed, rt_hub = hub;
    rt_level = level, w_waitreason = reason;
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
        PyObject *args[2] = {runq, g};
        PyObject *r = Py_IS_TYPE(runq, deque_type)
                      ? PyObject_Vectorcall(deque_append, args, 2, NULL)
                      : PyObject_CallMethodOneArg(runq, str_append, g);
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

/* An FDMutex waiter queue with nobody in it: None (never used) or []. */
static inline int
queue_empty(PyObject *q)
{
    return q == Py_None || (PyList_CheckExact(q) && PyList_GET_SIZE(q) == 0);
}

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
    long s = long_value(state);
    if (s == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (s & (FD_CLOSED | FD_WLOCK) || !queue_empty(ww))
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

/* ---- FD.read ------------------------------------------------------------ */

/* The small helpers read the int slots of an FD; -1 with no error set means
 * "not a plain int": the caller takes the Python path. */
static long
long_slot(PyObject *obj, Py_ssize_t off)
{
    PyObject *v = SLOT(obj, off);
    if (v == NULL || !PyLong_CheckExact(v))
        return -1;
    long x = long_value(v);
    if (x == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return -1;
    }
    return x;
}

static int
set_long_slot(PyObject *obj, Py_ssize_t off, long x)
{
    PyObject *v = PyLong_FromLong(x);
    if (v == NULL)
        return -1;
    PyObject *old = SLOT(obj, off);
    SLOT(obj, off) = v;
    Py_XDECREF(old);
    return 0;
}

/* The read(2) of FD.read: bytes; NULL with read_eagain set for EAGAIN;
 * NULL with an exception set for an error.  Small reads as in sp_read. */
static int read_eagain;

static PyObject *
do_read(int sfd, Py_ssize_t asked)
{
    PyObject *b = NULL;
    char *buf = small_buf;
    read_eagain = 0;
    if (asked > SMALL_READ) {
        b = PyBytes_FromStringAndSize(NULL, asked);
        if (b == NULL)
            return NULL;
        buf = PyBytes_AS_STRING(b);
    }
    ssize_t got;
    for (;;) {
        got = read(sfd, buf, (size_t)asked);
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
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            read_eagain = 1;
            return NULL;
        }
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    if (b == NULL)
        return PyBytes_FromStringAndSize(small_buf, got);
    if (got != asked && _PyBytes_Resize(&b, got) < 0)
        return NULL;
    return b;
}

/* FD.read's bookkeeping after a read of ``got`` bytes out of ``asked``
 * (fd.py: _after_short_read / _after_full_read), ``drained`` being the
 * DRAINED bit of the state when the read began. */
static int
after_read(PyObject *fd, Py_ssize_t n, Py_ssize_t asked, Py_ssize_t got, int drained)
{
    if (got < asked) {
        if (asked > read_min || !drained) {
            if (!drained) {
                long st = long_slot(fd, fd_state), hint = long_slot(fd, fd_drain_hint);
                if (st < 0 || hint < 0)
                    return -1;
                if (set_long_slot(fd, fd_state, st | hint) < 0)
                    return -1;
            }
            long rs = long_slot(fd, fd_rsize);
            if (asked > read_min && got <= asked >> 2 && asked == rs &&
                set_long_slot(fd, fd_rsize, (long)(asked >> 1)) < 0)
                return -1;
        }
    } else if (drained || asked < n) {
        if (drained) {
            long st = long_slot(fd, fd_state);
            if (st < 0 || set_long_slot(fd, fd_state, st & ~b_drained) < 0)
                return -1;
        }
        if (asked < n && set_long_slot(fd, fd_rsize, (long)(asked << 1)) < 0)
            return -1;
    }
    return 0;
}

/* FD.read's read(2) of ``asked`` bytes and its bookkeeping (after_read):
 * bytes; NULL with read_eagain set for EAGAIN; NULL with an exception. */
static PyObject *
read_counted(PyObject *fd, int sfd, long n, long asked, int drained)
{
    PyObject *data = do_read(sfd, asked);
    if (data == NULL)
        return NULL;
    if (after_read(fd, n, asked, PyBytes_GET_SIZE(data), drained) < 0) {
        Py_DECREF(data);
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_SystemError, "FD slots changed type");
        return NULL;
    }
    return data;
}

/* Empty the read slot of a PollDesc's g list (PollDesc: ``g[MODE_READ] =
 * None``); returns 1 if it held READY. */
static int
take_read_slot(PyObject *gs)
{
    PyObject *g = PyList_GET_ITEM(gs, MODE_READ);
    PyList_SET_ITEM(gs, MODE_READ, Py_NewRef(Py_None));
    int ready = g == pd_ready;
    Py_DECREF(g);
    return ready;
}

/* The PollDesc's read deadline has passed (deadline[READ] < 0), or is not the plain
 * 0 / positive float (then the Python path decides): 1; else 0. */
static int
read_deadline_odd(PyObject *pd)
{
    PyObject *d = SLOT(pd, pd_d);
    if (d == NULL || !PyList_CheckExact(d) || PyList_GET_SIZE(d) < 3)
        return 1;
    PyObject *rd = PyList_GET_ITEM(d, MODE_READ);
    return !(rd == int_zero || (PyFloat_CheckExact(rd) && PyFloat_AS_DOUBLE(rd) > 0.0));
}

/* PollDesc.wait(MODE_READ)'s steps before its switch, for a PollDesc with
 * no waiter, not closing, no passed deadline, under an edge-triggered
 * poller of a running runtime: the current goroutine becomes the read
 * waiter, is counted in nwait and says "IO wait", and the goroutine to
 * switch to is chosen as Runtime.park chooses it (the batch's next one if
 * it has started, else the hub).  Returns that greenlet (a new reference);
 * Py_None (borrowed, nothing changed) when the case is not the plain one
 * and PollDesc.wait must park; NULL with an exception (nothing changed).
 * Every step that can fail comes before the first change. */
static PyObject *
park_prepare(PyObject *pd, PyObject *gs)
{
    PyObject *rt = SLOT(pd, pd_rt), *runq = SLOT(pd, pd_runq);
    if (rt_type == NULL || rt == NULL || runq == NULL || !Py_IS_TYPE(rt, rt_type) ||
        PyList_GET_ITEM(gs, MODE_READ) != Py_None || SLOT(rt, rt_closed) != Py_False ||
        SLOT(rt, rt_level) != Py_False)
        return Py_None;
    long batch = long_slot(rt, rt_batch), nwait = long_slot(rt, rt_nwait);
    PyObject *hub = SLOT(rt, rt_hub);
    if (batch < 0 || nwait < 0 || hub == NULL)
        return Py_None;
    PyObject *me = PyObject_CallNoArgs(getcurrent);
    if (me == NULL)
        return NULL;
    int hand_over = 0;
    if (batch > 0) {
        /* Runtime.park: hand over to the batch's next goroutine unless it is
         * a worker never started (false), which the hub starts. */
        PyObject *next = PySequence_GetItem(runq, 0);
        hand_over = next == NULL ? -1 : PyObject_IsTrue(next);
        Py_XDECREF(next);
        if (hand_over < 0) {
            Py_DECREF(me);
            return NULL;
        }
    }
    PyObject *nwait_obj = PyLong_FromLong(nwait + 1);
    PyObject *batch_obj = PyLong_FromLong(hand_over ? batch - 1 : batch);
    if (nwait_obj == NULL || batch_obj == NULL) {
        Py_XDECREF(nwait_obj);
        Py_XDECREF(batch_obj);
        Py_DECREF(me);
        return NULL;
    }
    /* From here on nothing fails: popleft cannot (batch <= len(runq)). */
    PyObject *target = !hand_over ? Py_NewRef(hub)
                       : Py_IS_TYPE(runq, deque_type) ? PyObject_Vectorcall(deque_popleft, &runq, 1, NULL)
                       : PyObject_CallMethodNoArgs(runq, str_popleft);
    if (target == NULL) {
        Py_DECREF(nwait_obj);
        Py_DECREF(batch_obj);
        Py_DECREF(me);
        return NULL;
    }
    Py_SETREF(SLOT(rt, rt_batch), batch_obj);
    Py_SETREF(SLOT(rt, rt_nwait), nwait_obj);
    if (Py_IS_TYPE(me, worker_type)) {
        /* speed trick: a goroutine that parks on reads keeps "IO wait";
         * store it only when it changed */
        if (SLOT(me, w_waitreason) != str_io_wait)
            Py_XSETREF(SLOT(me, w_waitreason), Py_NewRef(str_io_wait));
    } else if (PyObject_SetAttr(me, str_waitreason, str_io_wait) < 0) {
        PyErr_Clear();                    /* the main greenlet: a diagnostic only */
    }
    PyObject *old = PyList_GET_ITEM(gs, MODE_READ);
    PyList_SET_ITEM(gs, MODE_READ, me);   /* the list takes our reference to me */
    Py_DECREF(old);
    return target;
}

/* read_fast(fd, n) -> bytes | None | greenlet
 *
 * FD.read up to the point where it would park, for an FD of the class
 * setup_fd learnt, a plain int n in 1..READ_MAX, called from the FD's
 * thread with the read side free, not shut, no reader queued:
 *
 *   bytes   the whole read was done: what FD.read returns (b"" at EOF)
 *   None    the caller runs the Python FD.read: nothing was changed
 *           (closing, a passed or odd deadline, the fairness yield, another
 *           waiter, any other class or value), or nothing that path does
 *           not do itself before it parks (a park that is not the plain
 *           case: a level-triggered poller, a stopped runtime)
 *   greenlet  FD.read parks now (a drained socket with no edge yet, or
 *           EAGAIN): the read lock and its reference are taken, the
 *           goroutine is the PollDesc's read waiter (park_prepare), and
 *           the caller switches to the greenlet returned, then calls
 *           read_woke(fd, n), and drops the lock as FD.read does
 *
 * The lock is not taken for a read done here: nothing else runs during
 * this call (one OS thread per runtime, no switch), so taking it and
 * dropping it around the read would leave no trace. */
static PyObject *
read_fast(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "read_fast(fd, n)");
        return NULL;
    }
    PyObject *fd = args[0], *nobj = args[1];
    if (fd_type == NULL || pd_type == NULL || !Py_IS_TYPE(fd, fd_type) ||
        !PyLong_CheckExact(nobj))
        Py_RETURN_NONE;
    long n = long_value(nobj);
    if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (n <= 0 || n > read_max)
        Py_RETURN_NONE;
    long s = long_slot(fd, fd_state);
    PyObject *tid = SLOT(fd, fd_tid), *pd = SLOT(fd, fd_pd), *rw = SLOT(fd, fd_read_waiters);
    if (s < 0 || s & (b_closed | b_rlock | b_rshut) || tid == NULL || pd == NULL ||
        rw == NULL || !Py_IS_TYPE(pd, pd_type) || !queue_empty(rw))
        Py_RETURN_NONE;
    unsigned long t = PyLong_AsUnsignedLong(tid);
    if (t == (unsigned long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    long rsize = long_slot(fd, fd_rsize), streak = long_slot(fd, fd_streak),
         sfd = long_slot(fd, fd_sysfd);
    if (t != PyThread_get_thread_ident() || rsize < 0 || streak < 0 || sfd < 0 || sfd > INT_MAX)
        Py_RETURN_NONE;
    long asked = n < rsize ? n : rsize;
    PyObject *gs = SLOT(pd, pd_g), *hup = SLOT(pd, pd_hup);
    if (SLOT(pd, pd_closing) != Py_False || read_deadline_odd(pd) || gs == NULL ||
        hup == NULL || !PyList_CheckExact(gs) || PyList_GET_SIZE(gs) < 3)
        Py_RETURN_NONE;
    PyObject *g = PyList_GET_ITEM(gs, MODE_READ);
    int drained = (s & b_drained) != 0;
    if (drained && hup == Py_False) {
        /* the drained-read shortcut: PollDesc.wait(MODE_READ) */
        if (g == Py_None)
            goto park;                    /* no edge yet: the caller parks */
        if (g != pd_ready)
            Py_RETURN_NONE;               /* another waiter: Python raises */
        take_read_slot(gs);
        if (set_long_slot(fd, fd_streak, 0) < 0)
            return NULL;
    } else {
        /* PollDesc.prepare(MODE_READ), and the fairness count */
        if (streak >= fair_reads)
            Py_RETURN_NONE;               /* Python yields first */
        if (g == pd_ready)
            take_read_slot(gs);
        if (set_long_slot(fd, fd_streak, streak + 1) < 0)
            return NULL;
    }
    PyObject *data = read_counted(fd, (int)sfd, n, asked, drained);
    if (data == NULL && read_eagain)
        goto park;
    return data;

park:
    {
        /* FD.read zeroes the streak around its wait (nothing reads it
         * meanwhile: the read lock is held) */
        if (set_long_slot(fd, fd_streak, 0) < 0)
            return NULL;
        PyObject *target = park_prepare(pd, gs);
        if (target == NULL || target == Py_None) {
            /* Not a plain park: the caller runs the Python FD.read, which
             * finds what this call left (no READY, no data, streak 0) and
             * parks in PollDesc.wait. */
            Py_XINCREF(target);
            return target;
        }
        /* Take the read lock and a reference, as FD.read's inlined lock
         * does. */
        if (set_long_slot(fd, fd_state, s + b_rlock + b_ref) < 0) {
            Py_DECREF(target);            /* unreachable: cached small ints */
            return NULL;
        }
        return target;
    }
}

/* FD.read's unlock of the read lock and its reference, when it has nobody
 * to wake and the FD is not closed: 0; else 1 (the caller unlocks the
 * Python way: FD._read_unlock), or -1 with an exception (nothing changed). */
static int
read_unlock_fast(PyObject *fd)
{
    PyObject *rw = SLOT(fd, fd_read_waiters);
    long st = long_slot(fd, fd_state);
    if (st < 0 || st & b_closed || rw == NULL || !queue_empty(rw))
        return 1;
    return set_long_slot(fd, fd_state, st - b_rlock - b_ref);
}

/* read_woke(fd, n) -> bytes | (bytes,) | int | greenlet
 *
 * After the switch of a park that read_fast (or read_woke) prepared, the
 * read lock still held: PollDesc.wait's steps after its switch (nwait
 * back down, the read slot consumed), then FD.read's read(2) and
 * bookkeeping.
 *
 *   bytes     what FD.read returns; the read lock was dropped too
 *   (bytes,)  the same, the lock still held: its unlock has a waiter to
 *             wake or a closed FD to destroy, which the caller does
 *   int r     woken without readiness (a deadline, evict): the caller
 *             goes on in PollDesc.wait, then calls read_resume(fd, n, r);
 *             r = asked << 1 | (1 if the state was DRAINED)
 *   greenlet  EAGAIN again (a spurious edge): parked again as read_fast
 *             does; the caller switches to it and calls read_woke again
 *
 * An exception leaves the lock held (the caller drops it). */
static PyObject *
read_woke(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "read_woke(fd, n)");
        return NULL;
    }
    PyObject *fd = args[0];
    long n = long_value(args[1]);
    if (n == -1 && PyErr_Occurred())
        return NULL;
    if (fd_type == NULL || !Py_IS_TYPE(fd, fd_type)) {
        PyErr_SetString(PyExc_TypeError, "read_woke: not an FD");
        return NULL;
    }
    /* read_fast checked these types before the park; the slots keep them */
    PyObject *pd = SLOT(fd, fd_pd);
    PyObject *gs = SLOT(pd, pd_g), *rt = SLOT(pd, pd_rt);
    long s = long_slot(fd, fd_state), rsize = long_slot(fd, fd_rsize),
         sfd = long_slot(fd, fd_sysfd), nwait = long_slot(rt, rt_nwait);
    if (s < 0 || rsize < 0 || sfd < 0 || sfd > INT_MAX || nwait < 1) {
        PyErr_SetString(PyExc_SystemError, "read_woke: FD or Runtime slots changed type");
        return NULL;
    }
    if (set_long_slot(rt, rt_nwait, nwait - 1) < 0)
        return NULL;
    long asked = n < rsize ? n : rsize;   /* as read_fast: the lock kept both */
    int drained = (s & b_drained) != 0;
    if (!take_read_slot(gs))
        return PyLong_FromLong(asked << 1 | drained);
    PyObject *data = read_counted(fd, (int)sfd, n, asked, drained);
    if (data == NULL) {
        if (!read_eagain)
            return NULL;
        PyObject *target = park_prepare(pd, gs);
        if (target == Py_None)
            return PyLong_FromLong(asked << 1 | drained);
        return target;
    }
    /* speed trick: FD.read's finally (the unlock) done here, saving the
     * Python frame its bytecodes on every read that parked */
    int rc = read_unlock_fast(fd);
    if (rc == 0)
        return data;
    if (rc < 0) {
        Py_DECREF(data);
        return NULL;
    }
    PyObject *t = PyTuple_Pack(1, data);
    Py_DECREF(data);
    return t;
}

/* read_resume(fd, n, r) -> bytes, or None for EAGAIN
 *
 * After read_woke returned r and the caller's PollDesc.wait(MODE_READ)
 * returned POLL_OK: FD.read's read(2) and bookkeeping, the
 * read lock still held (the caller drops it).  None: EAGAIN again (a
 * spurious edge): the caller waits again. */
static PyObject *
read_resume(PyObject *mod, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "read_resume(fd, n, r)");
        return NULL;
    }
    PyObject *fd = args[0];
    long n = PyLong_AsLong(args[1]), r = PyLong_AsLong(args[2]);
    if ((n == -1 || r == -1) && PyErr_Occurred())
        return NULL;
    if (fd_type == NULL || !Py_IS_TYPE(fd, fd_type)) {
        PyErr_SetString(PyExc_TypeError, "read_resume: not an FD");
        return NULL;
    }
    long sfd = long_slot(fd, fd_sysfd);
    if (sfd < 0 || sfd > INT_MAX) {
        PyErr_SetString(PyExc_SystemError, "FD.sysfd is not an int");
        return NULL;
    }
    PyObject *data = read_counted(fd, (int)sfd, n, r >> 1, (int)(r & 1));
    if (data == NULL && read_eagain)
        Py_RETURN_NONE;
    return data;
}

static PyMethodDef methods[] = {
    {"setup_polldesc", setup_polldesc, METH_VARARGS, "setup_polldesc(PollDesc, READY)"},
    {"setup_fd", setup_fd, METH_VARARGS,
     "setup_fd(FD, CLOSED, RLOCK, WLOCK, RSHUT, DRAINED, REF, READ_MIN, READ_MAX, FAIR_READS)"},
    {"read_fast", (PyCFunction)(void (*)(void))read_fast, METH_FASTCALL,
     "read_fast(fd, n) -> bytes, None, or with the read lock taken a greenlet to switch to"},
    {"setup_park", setup_park, METH_VARARGS, "setup_park(Runtime, Worker, getcurrent)"},
    {"read_woke", (PyCFunction)(void (*)(void))read_woke, METH_FASTCALL,
     "read_woke(fd, n) -> bytes (unlocked), (bytes,), an int r for PollDesc.wait, "
     "or a greenlet to switch to"},
    {"read_resume", (PyCFunction)(void (*)(void))read_resume, METH_FASTCALL,
     "read_resume(fd, n, r) -> bytes, or None for EAGAIN"},
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
    str_popleft = PyUnicode_InternFromString("popleft");
    str_waitreason = PyUnicode_InternFromString("waitreason");
    str_io_wait = PyUnicode_InternFromString("IO wait");
    int_zero = PyLong_FromLong(0);
    if (str_netpollready == NULL || str_append == NULL || str_popleft == NULL ||
        str_waitreason == NULL || str_io_wait == NULL || int_zero == NULL)
        return NULL;
    PyObject *collections = PyImport_ImportModule("collections");
    if (collections == NULL)
        return NULL;
    deque_type = (PyTypeObject *)PyObject_GetAttrString(collections, "deque");
    Py_DECREF(collections);
    if (deque_type == NULL)
        return NULL;
    deque_append = PyObject_GetAttrString((PyObject *)deque_type, "append");
    deque_popleft = PyObject_GetAttrString((PyObject *)deque_type, "popleft");
    if (deque_append == NULL || deque_popleft == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&moduledef);
    /* netpoll/speedups.py uses the module only if this matches its API. */
    if (m != NULL && PyModule_AddIntConstant(m, "API", 3) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
