# The compiled twin of modules/http/head.parse_head's common shape (included by _hotpath.pyx): an all-ASCII
# head whose start line `_start_line_text` takes and whose field lines `_SIMPLE_FIELDS` matches. It gives the
# Head the reference gives (its `_framing` called for a head with Transfer-Encoding, Connection or a second or
# unusual Content-Length; the Head made here otherwise); None for any other head, which the reference then
# reads (errors and all).

from cpython.unicode cimport PyUnicode_DecodeASCII


cdef bint _HTTP_TOKEN[256]  # head._TOKEN's characters


cdef void _http_token_table() noexcept:
    cdef int b
    for b in range(256):
        _HTTP_TOKEN[b] = b in b"!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


_http_token_table()

DEF _NAME_MAX = 256  # longer field names take the reference path


cdef inline bint _digit(unsigned char c) noexcept nogil:
    return 0x30 <= c <= 0x39


cdef inline str _ascii(const unsigned char* d, Py_ssize_t start, Py_ssize_t stop):
    return PyUnicode_DecodeASCII(<const char*>d + start, stop - start, NULL)


cdef object _http_start(const unsigned char* d, Py_ssize_t eol):
    """head._start_line_text of an ASCII start line d[:eol]: the StartLine tuple, or None."""
    cdef Py_ssize_t i, sp
    cdef unsigned char c
    if eol >= 5 and memcmp(d, b"HTTP/", 5) == 0:
        # HTTP/d.d SP ddd [SP phrase]: the phrase any of HTAB and 0x20-0x7E
        if eol < 12 or d[5] != 0x31 or d[6] != 0x2E or not _digit(d[7]) or d[8] != 0x20:
            return None
        if not (_digit(d[9]) and _digit(d[10]) and _digit(d[11])):
            return None
        if eol == 12:
            phrase = ""
        elif d[12] != 0x20:
            return None
        else:
            for i in range(13, eol):
                c = d[i]
                if not (c == 0x09 or 0x20 <= c <= 0x7E):
                    return None
            phrase = _ascii(d, 13, eol)
        code = (d[9] - 0x30) * 100 + (d[10] - 0x30) * 10 + (d[11] - 0x30)
        return (False, "", "", code, phrase, "1." + chr(d[7]))
    # token SP target SP HTTP/1.d: the target has no space, so the line splits one way only
    i = 0
    while i < eol and _HTTP_TOKEN[d[i]]:
        i += 1
    if i == 0 or i >= eol or d[i] != 0x20:
        return None
    sp = i
    i += 1
    while i < eol and 0x21 <= d[i] <= 0x7E:
        i += 1
    if i == sp + 1 or eol - i != 9 or d[i] != 0x20 or memcmp(d + i + 1, b"HTTP/1.", 7) != 0 or not _digit(d[i + 8]):
        return None
    return (True, _ascii(d, 0, sp), _ascii(d, sp + 1, i), 0, "", "1." + chr(d[i + 8]))


def http_head(bytes block, head_class, no_tokens, framing):
    """parse_head(block) for an all-ASCII head of simple field lines, given head.py's Head, _NO_TOKENS and
    _framing; None for any other block."""
    cdef const unsigned char* d = <const unsigned char*>PyBytes_AS_STRING(block)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(block), i, eol = -1, line, colon, vs, ve, k
    cdef unsigned char c
    cdef unsigned char name[_NAME_MAX]
    for i in range(n):
        c = d[i]
        if c >= 0x80:
            return None  # the reference decodes with replacement
        if c == 0x0D and eol < 0 and i + 1 < n and d[i + 1] == 0x0A:
            eol = i
    if eol < 0:
        return None
    start = _http_start(d, eol)
    if start is None:
        return None
    fields = []
    line = eol + 2
    content_length = None
    cdef bint plain = True  # no field that only _framing reads rightly
    cdef long long length
    while True:
        # _SIMPLE_FIELDS: (token ":" [^\r\n]* CRLF)* CRLF, to the block's end
        if line + 2 == n and d[line] == 0x0D and d[line + 1] == 0x0A:
            break
        colon = line
        while colon < n and _HTTP_TOKEN[d[colon]]:
            colon += 1
        if colon == line or colon >= n or d[colon] != 0x3A or colon - line > _NAME_MAX:
            return None
        i = colon + 1
        while i < n and d[i] != 0x0D and d[i] != 0x0A:
            i += 1
        if i + 1 >= n or d[i] != 0x0D or d[i + 1] != 0x0A:
            return None
        for k in range(colon - line):
            c = d[line + k]
            name[k] = c + 32 if 0x41 <= c <= 0x5A else c
        vs, ve = colon + 1, i
        while vs < ve and (d[vs] == 0x20 or d[vs] == 0x09):
            vs += 1
        while ve > vs and (d[ve - 1] == 0x20 or d[ve - 1] == 0x09):
            ve -= 1
        if plain and _framed(name, colon - line):
            if colon - line == 14 and content_length is None and 0 < ve - vs <= 18:
                length = 0
                for k in range(vs, ve):
                    if not _digit(d[k]):
                        plain = False
                        break
                    length = length * 10 + (d[k] - 0x30)
                else:
                    content_length = length
            else:
                plain = False
        fields.append((PyUnicode_DecodeASCII(<const char*>name, colon - line, NULL), _ascii(d, vs, ve)))
        line = i + 2
        if line >= n:
            return None  # no empty line ends the section
    headers = tuple(fields)
    if not plain:
        return framing(*start, headers)
    return head_class(*start, headers, content_length, False, False, no_tokens)


cdef inline bint _framed(const unsigned char* name, Py_ssize_t n) noexcept:
    """Whether a lower-cased field name is one `_framing` reads: content-length, transfer-encoding, connection."""
    if n == 14:
        return memcmp(name, b"content-length", 14) == 0
    if n == 17:
        return memcmp(name, b"transfer-encoding", 17) == 0
    if n == 10:
        return memcmp(name, b"connection", 10) == 0
    return False
