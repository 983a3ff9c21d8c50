# Classic pcap records read straight from the file's bytes (capture.FileSource's compiled reader).
#
# libpcap reads a file through stdio, 4 KiB a read(2), and pcapy-ng's next_batch copies every packet into
# its batch buffer: about a tenth of a flows-only run. FileSource instead reads large chunks itself and
# this function indexes the records inside a chunk in place, so the chunk is the batch buffer. It takes
# only what libpcap would hand out unchanged (a whole record no longer than the capture's snapshot);
# anything else stops it, and FileSource lets libpcap read the file from that record on.

from libc.stdlib cimport malloc


def pcap_records(const unsigned char[::1] chunk, Py_ssize_t start, Py_ssize_t max_caplen, Py_ssize_t max_records):
    """The records in `chunk` from `start` (a classic pcap's records, the file's byte order the machine's,
    microsecond timestamps) as (meta, end, need): `meta` the `capture.META` batch index of up to
    `max_records` of them (offsets into `chunk`), `end` where they end, `need` why it stopped there: 0 at
    `max_records` records or at the chunk's end on a record boundary, the whole size of the next record
    (header included) when the chunk holds only part of it, -1 when the next record is longer than
    `max_caplen`."""
    cdef Py_ssize_t size = chunk.shape[0], pos = start, count = 0, caplen
    cdef Py_ssize_t need = 0
    cdef const unsigned char* p = &chunk[0] if size else NULL
    cdef uint32_t header[4]  # ts_sec, ts_usec, incl_len, orig_len (copied: a record may start at any byte)
    if start < 0 or start > size:
        raise ValueError(f"start {start} lies outside the chunk ({size} bytes)")
    if max_records <= 0:
        return b"", start, 0
    cdef Record* out = <Record*>malloc(max_records * sizeof(Record))
    if out == NULL:
        raise MemoryError()
    try:
        while count < max_records:
            if size - pos < 16:
                need = 16 if size > pos else 0
                break
            memcpy(header, p + pos, 16)
            caplen = header[2]
            if caplen > max_caplen:
                need = -1
                break
            if size - pos - 16 < caplen:
                need = 16 + caplen
                break
            out[count].sec = header[0]
            out[count].usec = header[1]
            out[count].off = <uint32_t>(pos + 16)
            out[count].caplen = <uint32_t>caplen
            count += 1
            pos += 16 + caplen
        return PyBytes_FromStringAndSize(<const char*>out, count * sizeof(Record)), pos, need
    finally:
        free(out)


cdef extern from "<unistd.h>" nogil:
    ssize_t c_read "read" (int fd, void* buf, size_t count)

cdef extern from "<errno.h>" nogil:
    int errno
    int EINTR

from cpython.bytes cimport PyBytes_AS_STRING
import os


def read_chunk(int fd, bytes rest, Py_ssize_t size) -> bytes:
    """`rest + os.read(fd, size)` (reading on until `size` bytes or the end of the file), with the file's
    bytes read straight into the new object: a concatenation would copy the whole chunk once more."""
    cdef Py_ssize_t kept = len(rest), got = 0
    cdef ssize_t n
    cdef int error = 0
    if size < 0:
        raise ValueError("size must not be negative")
    cdef bytes out = PyBytes_FromStringAndSize(NULL, kept + size)
    cdef char* p = PyBytes_AS_STRING(out)
    memcpy(p, PyBytes_AS_STRING(rest), kept)
    while got < size:
        with nogil:
            n = c_read(fd, p + kept + got, size - got)
            if n < 0:
                error = errno
        if n > 0:
            got += n
        elif n == 0:
            break
        elif error != EINTR:
            raise OSError(error, os.strerror(error))
    return out if got == size else out[:kept + got]
