# The file output's batch written with writev(2) from C (outputs/file.py's `_write_lines` is the
# reference): the documents as they are, a newline after each, the iovecs made in C (no Python list of
# twice the documents, no sizes summed in Python), the GIL let go while the kernel copies.

cdef extern from "<sys/uio.h>" nogil:
    cdef struct iovec:
        void* iov_base
        size_t iov_len
    ssize_t writev(int fd, const iovec* iov, int iovcnt)

DEF _IOV_MAX = 1024  # iovecs a writev takes (Linux's IOV_MAX)


def lines_size(list docs) -> int:
    """sum(map(len, docs)) + len(docs): the bytes of the documents as lines."""
    cdef Py_ssize_t total = 0
    for doc in docs:
        total += len(<bytes>doc)
    return total + len(docs)


cdef Py_ssize_t _write_vector(int fd, iovec* vector, Py_ssize_t count, int* error) noexcept nogil:
    """writev of `count` iovecs, IOV_MAX at a time, a short write written on and EINTR retried; the
    bytes written (-1 with `error` set: the write failed)."""
    cdef Py_ssize_t at = 0, total = 0
    cdef ssize_t done
    while at < count:
        done = writev(fd, vector + at, <int>min(count - at, _IOV_MAX))
        if done < 0:
            if errno == EINTR:
                continue
            error[0] = errno
            return -1
        total += done
        while at < count and <size_t>done >= vector[at].iov_len:  # past the iovecs written whole
            done -= vector[at].iov_len
            at += 1
        if at < count and done > 0:  # into one: the rest of it next
            vector[at].iov_base = <char*>vector[at].iov_base + done
            vector[at].iov_len -= done
    return total


def write_lines(int fd, list docs) -> int:
    """Each of `docs` (bytes) followed by a newline, written to `fd` in order (a short write written on,
    EINTR retried); returns the bytes written. The GIL is let go once, for all of it."""
    cdef Py_ssize_t n = len(docs), i, total
    cdef int error = 0
    cdef const char* newline = b"\n"
    if n == 0:
        return 0
    cdef iovec* vector = <iovec*>malloc(2 * n * sizeof(iovec))
    if vector == NULL:
        raise MemoryError()
    try:
        for i in range(n):
            doc = docs[i]
            if type(doc) is not bytes:
                raise TypeError("a document to write is not bytes")
            vector[2 * i].iov_base = <void*>PyBytes_AS_STRING(doc)
            vector[2 * i].iov_len = len(<bytes>doc)
            vector[2 * i + 1].iov_base = <void*>newline
            vector[2 * i + 1].iov_len = 1
        with nogil:  # `docs` holds the documents; nothing else sees this list while we write
            total = _write_vector(fd, vector, 2 * n, &error)
        if total < 0:
            raise OSError(error, os.strerror(error))
        return total
    finally:
        free(vector)
