# The file output's batch written with writev(2) from C (outputs/file.py's `_write_lines` is the
# reference): the documents as they are, a newline after each, the iovecs made in C (no Python list of
# twice the documents, no sizes summed in Python), the GIL let go while the kernel copies.

cdef extern from "<sys/uio.h>" nogil:
    cdef struct iovec:
        void* iov_base
        size_t iov_len
    ssize_t writev(int fd, const iovec* iov, int iovcnt)

DEF _LINES_PER_WRITEV = 512  # two iovecs a line: within IOV_MAX (1024 on Linux)


def lines_size(list docs) -> int:
    """sum(map(len, docs)) + len(docs): the bytes of the documents as lines."""
    cdef Py_ssize_t total = 0
    for doc in docs:
        total += len(<bytes>doc)
    return total + len(docs)


def write_lines(int fd, list docs) -> int:
    """Each of `docs` (bytes) followed by a newline, written to `fd` in order (a short write written on,
    EINTR retried); returns the bytes written."""
    cdef Py_ssize_t n = len(docs), start, k, i, at, left
    cdef long long total = 0
    cdef ssize_t done
    cdef int error = 0
    cdef const char* newline = b"\n"
    cdef iovec* vector = <iovec*>malloc(2 * _LINES_PER_WRITEV * sizeof(iovec))
    if vector == NULL:
        raise MemoryError()
    try:
        for start in range(0, n, _LINES_PER_WRITEV):
            k = min(_LINES_PER_WRITEV, n - start)
            for i in range(k):
                doc = docs[start + i]
                if type(doc) is not bytes:
                    raise TypeError("a document to write is not bytes")
                vector[2 * i].iov_base = <void*>PyBytes_AS_STRING(doc)
                vector[2 * i].iov_len = len(<bytes>doc)
                vector[2 * i + 1].iov_base = <void*>newline
                vector[2 * i + 1].iov_len = 1
            at, left = 0, 2 * k
            while left > 0:
                with nogil:
                    done = writev(fd, vector + at, <int>left)
                    if done < 0:
                        error = errno
                if done < 0:
                    if error == EINTR:
                        continue
                    raise OSError(error, os.strerror(error))
                total += done
                while left > 0 and <size_t>done >= vector[at].iov_len:  # past the iovecs written whole
                    done -= vector[at].iov_len
                    at += 1
                    left -= 1
                if left > 0 and done > 0:  # into one: the rest of it next
                    vector[at].iov_base = <char*>vector[at].iov_base + done
                    vector[at].iov_len -= done
        return total
    finally:
        free(vector)
