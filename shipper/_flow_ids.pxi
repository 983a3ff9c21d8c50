# The flow event's computed strings in C (included by _hotpath.pyx): Community ID v1 (community_id.py:
# SHA-1 of the same packed tuple, standard base64) and event.iso_timestamp. Each gives exactly the
# reference's string; inputs outside the shapes handled here go to the reference.

from libc.math cimport nearbyint
from libc.stdio cimport snprintf
from libc.string cimport memset
from cpython.unicode cimport PyUnicode_DecodeASCII

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct tm:
        pass
    tm* gmtime_r(const time_t* timer, tm* result)
    size_t strftime(char* s, size_t maxsize, const char* fmt, const tm* t)


# --- SHA-1 of one block (the Community ID's input is at most 40 bytes) ---------------------------------

cdef inline uint32_t _rol(uint32_t x, int n) noexcept nogil:
    return (x << n) | (x >> (32 - n))


cdef void _sha1_short(const unsigned char* msg, Py_ssize_t n, unsigned char* out) noexcept nogil:
    """SHA-1 (FIPS 180-4) of a message of at most 55 bytes: one padded block."""
    cdef unsigned char block[64]
    cdef uint32_t w[80]
    cdef uint32_t a = 0x67452301U, b = 0xEFCDAB89U, c = 0x98BADCFEU, d = 0x10325476U, e = 0xC3D2E1F0U
    cdef uint32_t f, k, t
    cdef int i
    memset(block, 0, 64)
    memcpy(block, msg, n)
    block[n] = 0x80
    block[62] = <unsigned char>((n * 8) >> 8)
    block[63] = <unsigned char>(n * 8)
    for i in range(16):
        w[i] = (<uint32_t>block[4 * i] << 24) | (<uint32_t>block[4 * i + 1] << 16) | (
            <uint32_t>block[4 * i + 2] << 8) | block[4 * i + 3]
    for i in range(16, 80):
        w[i] = _rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1)
    for i in range(80):
        if i < 20:
            f = (b & c) | (~b & d)
            k = 0x5A827999U
        elif i < 40:
            f = b ^ c ^ d
            k = 0x6ED9EBA1U
        elif i < 60:
            f = (b & c) | (b & d) | (c & d)
            k = 0x8F1BBCDCU
        else:
            f = b ^ c ^ d
            k = 0xCA62C1D6U
        t = _rol(a, 5) + f + e + k + w[i]
        e = d
        d = c
        c = _rol(b, 30)
        b = a
        a = t
    _be32(out, a + 0x67452301U)
    _be32(out + 4, b + 0xEFCDAB89U)
    _be32(out + 8, c + 0x98BADCFEU)
    _be32(out + 12, d + 0x10325476U)
    _be32(out + 16, e + 0xC3D2E1F0U)


cdef inline void _be32(unsigned char* out, uint32_t v) noexcept nogil:
    out[0] = <unsigned char>(v >> 24)
    out[1] = <unsigned char>(v >> 16)
    out[2] = <unsigned char>(v >> 8)
    out[3] = <unsigned char>v


cdef const char* _B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


cdef Py_ssize_t _base64(const unsigned char* data, Py_ssize_t n, const char* alphabet, char* out) noexcept nogil:
    """RFC 4648 base64 with padding; `out` has room for 4 * ceil(n / 3) characters. Returns their count."""
    cdef Py_ssize_t i = 0, o = 0
    cdef uint32_t v
    while i + 3 <= n:
        v = (<uint32_t>data[i] << 16) | (<uint32_t>data[i + 1] << 8) | data[i + 2]
        out[o] = alphabet[v >> 18]
        out[o + 1] = alphabet[(v >> 12) & 63]
        out[o + 2] = alphabet[(v >> 6) & 63]
        out[o + 3] = alphabet[v & 63]
        i += 3
        o += 4
    if n - i == 1:
        v = <uint32_t>data[i] << 16
        out[o] = alphabet[v >> 18]
        out[o + 1] = alphabet[(v >> 12) & 63]
        out[o + 2] = 61  # '='
        out[o + 3] = 61
        o += 4
    elif n - i == 2:
        v = (<uint32_t>data[i] << 16) | (<uint32_t>data[i + 1] << 8)
        out[o] = alphabet[v >> 18]
        out[o + 1] = alphabet[(v >> 12) & 63]
        out[o + 2] = alphabet[(v >> 6) & 63]
        out[o + 3] = 61
        o += 4
    return o


# --- Community ID v1 -------------------------------------------------------------------------------------

cdef int _icmp_counterpart(int proto, int kind) noexcept nogil:
    """community_id._ICMP4_COUNTERPART / _ICMP6_COUNTERPART, or -1 for a one-way message type."""
    if proto == 1:
        if kind == 8: return 0
        if kind == 0: return 8
        if kind == 13: return 14
        if kind == 14: return 13
        if kind == 15: return 16
        if kind == 16: return 15
        if kind == 10: return 9
        if kind == 9: return 10
        if kind == 17: return 18
        if kind == 18: return 17
        return -1
    if 128 <= kind <= 131 or 133 <= kind <= 136 or 139 <= kind <= 140 or 144 <= kind <= 145:
        # pairs: (128, 129) (130, 131) (133, 134) (135, 136) (139, 140) (144, 145)
        if kind == 128 or kind == 130 or kind == 139 or kind == 144:
            return kind + 1
        if kind == 129 or kind == 131 or kind == 140 or kind == 145:
            return kind - 1
        if kind == 133 or kind == 135:
            return kind + 1
        return kind - 1
    return -1


cdef str _community(int proto, const unsigned char* src, const unsigned char* dst, Py_ssize_t n, int sport,
                    int dport):
    """community_id(proto, src, dst, sport, dport) with seed 0 and base64, for inputs it accepts: 4- or
    16-byte addresses, proto 0..255, ports 0..65535 (ICMP type and code 0..255)."""
    cdef unsigned char packed[40]
    cdef unsigned char digest[20]
    cdef char text[32]
    cdef bint with_ports, swap = False
    cdef int counterpart, cmp
    cdef Py_ssize_t size
    cdef const unsigned char* first = src
    cdef const unsigned char* second = dst
    if proto == 1 or proto == 58:
        counterpart = _icmp_counterpart(proto, sport)
        with_ports = True
        if counterpart >= 0:
            dport = counterpart
            swap = True  # a request/reply pair: ordered like a bidirectional flow
    elif proto == 6 or proto == 17 or proto == 132:
        with_ports = True
        swap = True
    else:
        with_ports = False
        swap = True
    if swap:
        cmp = memcmp(src, dst, n)
        if not (cmp < 0 or (cmp == 0 and sport < dport)):
            first, second = dst, src
            sport, dport = dport, sport
    packed[0] = 0  # seed 0
    packed[1] = 0
    memcpy(packed + 2, first, n)
    memcpy(packed + 2 + n, second, n)
    packed[2 + 2 * n] = <unsigned char>proto
    packed[3 + 2 * n] = 0
    size = 4 + 2 * n
    if with_ports:
        packed[size] = <unsigned char>(sport >> 8)
        packed[size + 1] = <unsigned char>sport
        packed[size + 2] = <unsigned char>(dport >> 8)
        packed[size + 3] = <unsigned char>dport
        size += 4
    _sha1_short(packed, size, digest)
    text[0] = 49  # '1'
    text[1] = 58  # ':'
    return PyUnicode_DecodeASCII(text, 2 + _base64(digest, 20, _B64, text + 2), NULL)


def community_id(int proto, bytes src, bytes dst, int sport, int dport, reference):
    """community_id.community_id(proto, src, dst, sport, dport), compiled; `reference` answers (or
    raises) for what it does not take."""
    cdef Py_ssize_t n = len(src)
    if (n != len(dst) or (n != 4 and n != 16) or not 0 <= proto <= 255 or not 0 <= sport <= 0xFFFF
            or not 0 <= dport <= 0xFFFF or ((proto == 1 or proto == 58) and (sport > 255 or dport > 255))):
        return reference(proto, src, dst, sport, dport)
    return _community(proto, <const unsigned char*>src, <const unsigned char*>dst, n, sport, dport)


# --- event.iso_timestamp -----------------------------------------------------------------------------------

cdef long long _iso_second = -1  # the second _iso_prefix formats
cdef char _iso_prefix[32]


cdef str _iso(double ts, reference):
    """iso_timestamp(ts): `2026-11-23T06:54:57.123456Z`, the nearest microsecond (half to even, as
    Python's round), the second through the C library's gmtime and strftime as time.strftime does."""
    global _iso_second
    cdef double us = ts * 1e6
    cdef long long whole, second
    cdef time_t t
    cdef tm parts
    cdef char text[48]
    cdef int size
    if not (0.0 <= us < 2.5e17):  # negative, NaN, or past year 9000: the reference's
        return reference(ts)
    whole = <long long>nearbyint(us)
    second = whole // 1000000
    if second != _iso_second:
        t = <time_t>second
        if gmtime_r(&t, &parts) == NULL or strftime(_iso_prefix, sizeof(_iso_prefix), "%Y-%m-%dT%H:%M:%S",
                                                    &parts) == 0:
            _iso_second = -1
            return reference(ts)
        _iso_second = second
    size = snprintf(text, sizeof(text), "%s.%06dZ", _iso_prefix, <int>(whole - second * 1000000))
    return PyUnicode_DecodeASCII(text, size, NULL)


_report_stamp = (float("nan"), "")  # (time, text), replaced whole: a periodic report stamps many events


cdef str _report_time(double now, reference):
    global _report_stamp
    cdef tuple stamp = _report_stamp
    if stamp[0] != now:
        stamp = _report_stamp = (now, _iso(now, reference))
    return stamp[1]


def iso_timestamp(double ts, reference) -> str:
    """event.iso_timestamp, compiled (for tests)."""
    return _iso(ts, reference)
