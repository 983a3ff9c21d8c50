# The compiled twin of modules/dns/parser.parse_message for the common shape of a DNS message (included by
# _hotpath.pyx). It returns the very objects the reference builds (the module passes its record classes),
# or None for any other shape or any damage: the reference then parses the message, errors included.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport strlen


cdef extern from "<arpa/inet.h>" nogil:
    const char* inet_ntop(int af, const void* src, char* dst, unsigned int size)

cdef extern from "<sys/socket.h>" nogil:
    int AF_INET
    int AF_INET6


cdef bint _DNS_PLAIN[256]  # names.py's _PLAIN: printable ASCII but for . \ " ( ) @ ; space and '


cdef void _dns_plain_table() noexcept:
    cdef int b
    for b in range(256):
        _DNS_PLAIN[b] = 0x21 <= b < 0x7F and b not in b'.\\"()@; \''


_dns_plain_table()


cdef object _dns_name(const unsigned char* d, Py_ssize_t n, Py_ssize_t* at):
    """read_name for a name of plain labels without a pointer, not the root: its text (`www.example.com.`),
    `at` moved past it; None for any other name (the reference reads it)."""
    cdef Py_ssize_t p = at[0], length, i, out = 0, wire = 1
    cdef char text[256]
    while True:
        if p >= n:
            return None
        length = d[p]
        if length == 0:
            break
        if length & 0xC0:
            return None
        wire += length + 1
        if wire > 255 or p + 1 + length > n:
            return None
        for i in range(p + 1, p + 1 + length):
            if not _DNS_PLAIN[d[i]]:
                return None
            text[out] = <char>d[i]
            out += 1
        text[out] = 46  # '.'
        out += 1
        p += 1 + length
    if out == 0:
        return None
    at[0] = p + 1
    return PyUnicode_DecodeASCII(text, out, NULL)


cdef object _dns_records(const unsigned char* d, Py_ssize_t n, Py_ssize_t* at, int count, first, record):
    """_records for answers or authorities of type A or AAAA, each owned by a plain name or by a pointer to
    the first question (`first`, its name); None for anything else."""
    cdef Py_ssize_t p = at[0], size
    cdef int rtype, rclass, i
    cdef unsigned int ttl
    cdef char text[64]
    out = []
    for i in range(count):
        if first is not None and p + 1 < n and d[p] == 0xC0 and d[p + 1] == 12:
            name = first
            p += 2
        else:
            at[0] = p
            name = _dns_name(d, n, at)
            if name is None:
                return None
            p = at[0]
        if p + 10 > n:
            return None
        rtype = d[p] << 8 | d[p + 1]
        rclass = d[p + 2] << 8 | d[p + 3]
        ttl = (<unsigned int>d[p + 4]) << 24 | d[p + 5] << 16 | d[p + 6] << 8 | d[p + 7]
        size = d[p + 8] << 8 | d[p + 9]
        p += 10
        if p + size > n:
            return None
        if rtype == 1 and size == 4:
            inet_ntop(AF_INET, d + p, text, sizeof(text))
        elif rtype == 28 and size == 16:
            inet_ntop(AF_INET6, d + p, text, sizeof(text))
        else:
            return None
        address = PyUnicode_DecodeASCII(text, strlen(text), NULL)
        out.append(record(name, rtype, rclass, ttl, address, (), address, False))
        p += size
    at[0] = p
    return tuple(out)


def dns_parse(data, ts, wire_length, header, question, record, message):
    """parse_message(data, ts, wire_length) of modules/dns/parser.py when the message is of the common shape:
    questions of plain names without pointers; answers and authorities of type A or AAAA owned by such names
    or by a pointer to the first question; no additional records. None otherwise. `header`, `question`,
    `record` and `message` are the module's Header, Question, Record and DnsMessage."""
    if type(data) is not bytes:
        return None
    cdef const unsigned char* d = <const unsigned char*>PyBytes_AS_STRING(data)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(data), p = 12
    cdef int flags, qdcount, ancount, nscount, arcount, i
    if n < 12:
        return None
    flags = d[2] << 8 | d[3]
    qdcount = d[4] << 8 | d[5]
    ancount = d[6] << 8 | d[7]
    nscount = d[8] << 8 | d[9]
    arcount = d[10] << 8 | d[11]
    if arcount:
        return None
    questions = []
    first = None
    for i in range(qdcount):
        name = _dns_name(d, n, &p)
        if name is None or p + 4 > n:
            return None
        if i == 0:
            first = name
        questions.append(question(name, d[p] << 8 | d[p + 1], d[p + 2] << 8 | d[p + 3]))
        p += 4
    answers = _dns_records(d, n, &p, ancount, first, record) if ancount else ()
    if answers is None:
        return None
    authorities = _dns_records(d, n, &p, nscount, first, record) if nscount else ()
    if authorities is None:
        return None
    head = header(d[0] << 8 | d[1], (flags & 0x8000) != 0, (flags >> 11) & 0xF, (flags & 0x0400) != 0,
                  (flags & 0x0200) != 0, (flags & 0x0100) != 0, (flags & 0x0080) != 0, (flags & 0x0020) != 0,
                  (flags & 0x0010) != 0, flags & 0xF, qdcount, ancount, nscount, arcount)
    return message(head, tuple(questions), answers, authorities, (), None, ts, n if wire_length is None else wire_length,
                   n - p)
