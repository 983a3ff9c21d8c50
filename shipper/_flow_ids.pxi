# The flow event's computed strings in C (included by _hotpath.pyx): Community ID v1 (community_id.py:
# SHA-1 of the same packed tuple, standard base64) and event.iso_timestamp. Each gives exactly the
# reference's string; inputs outside the shapes handled here go to the reference.

from libc.math cimport nearbyint
from libc.string cimport memset
from cpython.unicode cimport PyUnicode_DecodeASCII

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object text, Py_ssize_t* size) except NULL

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    cdef struct tm:
        pass
    tm* gmtime_r(const time_t* timer, tm* result)
    size_t strftime(char* s, size_t maxsize, const char* fmt, const tm* t)


# --- SHA-1 of one block (the Community ID's input is at most 40 bytes) ---------------------------------

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* SHA-1 (FIPS 180-4) and BLAKE2b (RFC 7693) compression functions, unrolled, the state in locals:
       the Cython loops they replace kept it in arrays and took 3,400 instructions a block. */
    #define PS_ROL32(x, n) (((x) << (n)) | ((x) >> (32 - (n))))
    static void packetshipper_sha1_block(uint32_t s[5], const unsigned char *p) {
        uint32_t w[16], a = s[0], b = s[1], c = s[2], d = s[3], e = s[4];
        int i;
        for (i = 0; i < 16; i++)
            w[i] = ((uint32_t)p[4 * i] << 24) | ((uint32_t)p[4 * i + 1] << 16) | ((uint32_t)p[4 * i + 2] << 8) | p[4 * i + 3];
    #define PS_W(i) (w[(i) & 15] = PS_ROL32(w[((i) + 13) & 15] ^ w[((i) + 8) & 15] ^ w[((i) + 2) & 15] ^ w[(i) & 15], 1))
    #define R0(v, x, y, z, u, i) u += (((y ^ z) & x) ^ z) + w[i] + 0x5A827999U + PS_ROL32(v, 5); x = PS_ROL32(x, 30);
    #define R1(v, x, y, z, u, i) u += (((y ^ z) & x) ^ z) + PS_W(i) + 0x5A827999U + PS_ROL32(v, 5); x = PS_ROL32(x, 30);
    #define R2(v, x, y, z, u, i) u += (x ^ y ^ z) + PS_W(i) + 0x6ED9EBA1U + PS_ROL32(v, 5); x = PS_ROL32(x, 30);
    #define R3(v, x, y, z, u, i) u += (((x | y) & z) | (x & y)) + PS_W(i) + 0x8F1BBCDCU + PS_ROL32(v, 5); x = PS_ROL32(x, 30);
    #define R4(v, x, y, z, u, i) u += (x ^ y ^ z) + PS_W(i) + 0xCA62C1D6U + PS_ROL32(v, 5); x = PS_ROL32(x, 30);
        R0(a,b,c,d,e,0); R0(e,a,b,c,d,1); R0(d,e,a,b,c,2); R0(c,d,e,a,b,3); R0(b,c,d,e,a,4);
        R0(a,b,c,d,e,5); R0(e,a,b,c,d,6); R0(d,e,a,b,c,7); R0(c,d,e,a,b,8); R0(b,c,d,e,a,9);
        R0(a,b,c,d,e,10); R0(e,a,b,c,d,11); R0(d,e,a,b,c,12); R0(c,d,e,a,b,13); R0(b,c,d,e,a,14);
        R0(a,b,c,d,e,15); R1(e,a,b,c,d,16); R1(d,e,a,b,c,17); R1(c,d,e,a,b,18); R1(b,c,d,e,a,19);
        R2(a,b,c,d,e,20); R2(e,a,b,c,d,21); R2(d,e,a,b,c,22); R2(c,d,e,a,b,23); R2(b,c,d,e,a,24);
        R2(a,b,c,d,e,25); R2(e,a,b,c,d,26); R2(d,e,a,b,c,27); R2(c,d,e,a,b,28); R2(b,c,d,e,a,29);
        R2(a,b,c,d,e,30); R2(e,a,b,c,d,31); R2(d,e,a,b,c,32); R2(c,d,e,a,b,33); R2(b,c,d,e,a,34);
        R2(a,b,c,d,e,35); R2(e,a,b,c,d,36); R2(d,e,a,b,c,37); R2(c,d,e,a,b,38); R2(b,c,d,e,a,39);
        R3(a,b,c,d,e,40); R3(e,a,b,c,d,41); R3(d,e,a,b,c,42); R3(c,d,e,a,b,43); R3(b,c,d,e,a,44);
        R3(a,b,c,d,e,45); R3(e,a,b,c,d,46); R3(d,e,a,b,c,47); R3(c,d,e,a,b,48); R3(b,c,d,e,a,49);
        R3(a,b,c,d,e,50); R3(e,a,b,c,d,51); R3(d,e,a,b,c,52); R3(c,d,e,a,b,53); R3(b,c,d,e,a,54);
        R3(a,b,c,d,e,55); R3(e,a,b,c,d,56); R3(d,e,a,b,c,57); R3(c,d,e,a,b,58); R3(b,c,d,e,a,59);
        R4(a,b,c,d,e,60); R4(e,a,b,c,d,61); R4(d,e,a,b,c,62); R4(c,d,e,a,b,63); R4(b,c,d,e,a,64);
        R4(a,b,c,d,e,65); R4(e,a,b,c,d,66); R4(d,e,a,b,c,67); R4(c,d,e,a,b,68); R4(b,c,d,e,a,69);
        R4(a,b,c,d,e,70); R4(e,a,b,c,d,71); R4(d,e,a,b,c,72); R4(c,d,e,a,b,73); R4(b,c,d,e,a,74);
        R4(a,b,c,d,e,75); R4(e,a,b,c,d,76); R4(d,e,a,b,c,77); R4(c,d,e,a,b,78); R4(b,c,d,e,a,79);
    #undef R0
    #undef R1
    #undef R2
    #undef R3
    #undef R4
    #undef PS_W
        s[0] += a; s[1] += b; s[2] += c; s[3] += d; s[4] += e;
    }

    static const uint8_t packetshipper_b2_sigma[12][16] = {
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
        {11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4}, {7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
        {9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13}, {2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
        {12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11}, {13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
        {6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5}, {10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
        {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}, {14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
    };
    static const uint64_t packetshipper_b2_iv[8] = {
        0x6A09E667F3BCC908ULL, 0xBB67AE8584CAA73BULL, 0x3C6EF372FE94F82BULL, 0xA54FF53A5F1D36F1ULL,
        0x510E527FADE682D1ULL, 0x9B05688C2B3E6C1FULL, 0x1F83D9ABFB41BD6BULL, 0x5BE0CD19137E2179ULL};
    #define PS_ROR64(x, n) (((x) >> (n)) | ((x) << (64 - (n))))
    /* counter: bytes so far, below 2**64 here (the high word of RFC 7693's t stays 0) */
    static void packetshipper_b2_compress(uint64_t h[8], const unsigned char *p, uint64_t counter, int last) {
        uint64_t m[16];
        int i, j;
        for (i = 0; i < 16; i++) {
            m[i] = 0;
            for (j = 7; j >= 0; j--) m[i] = (m[i] << 8) | p[8 * i + j];
        }
        uint64_t v0 = h[0], v1 = h[1], v2 = h[2], v3 = h[3], v4 = h[4], v5 = h[5], v6 = h[6], v7 = h[7];
        uint64_t v8 = packetshipper_b2_iv[0], v9 = packetshipper_b2_iv[1], v10 = packetshipper_b2_iv[2];
        uint64_t v11 = packetshipper_b2_iv[3], v12 = packetshipper_b2_iv[4] ^ counter, v13 = packetshipper_b2_iv[5];
        uint64_t v14 = last ? ~packetshipper_b2_iv[6] : packetshipper_b2_iv[6], v15 = packetshipper_b2_iv[7];
    #define B2_G(r, k, a, b, c, d)                                              \
        a = a + b + m[packetshipper_b2_sigma[r][2 * (k)]]; d = PS_ROR64(d ^ a, 32); \
        c = c + d; b = PS_ROR64(b ^ c, 24);                                     \
        a = a + b + m[packetshipper_b2_sigma[r][2 * (k) + 1]]; d = PS_ROR64(d ^ a, 16); \
        c = c + d; b = PS_ROR64(b ^ c, 63);
    #define B2_ROUND(r)                                                         \
        B2_G(r, 0, v0, v4, v8, v12) B2_G(r, 1, v1, v5, v9, v13) B2_G(r, 2, v2, v6, v10, v14) \
        B2_G(r, 3, v3, v7, v11, v15) B2_G(r, 4, v0, v5, v10, v15) B2_G(r, 5, v1, v6, v11, v12) \
        B2_G(r, 6, v2, v7, v8, v13) B2_G(r, 7, v3, v4, v9, v14)
        B2_ROUND(0);
        B2_ROUND(1);
        B2_ROUND(2);
        B2_ROUND(3);
        B2_ROUND(4);
        B2_ROUND(5);
        B2_ROUND(6);
        B2_ROUND(7);
        B2_ROUND(8);
        B2_ROUND(9);
        B2_ROUND(10);
        B2_ROUND(11);
    #undef B2_ROUND
    #undef B2_G
        h[0] ^= v0 ^ v8; h[1] ^= v1 ^ v9; h[2] ^= v2 ^ v10; h[3] ^= v3 ^ v11;
        h[4] ^= v4 ^ v12; h[5] ^= v5 ^ v13; h[6] ^= v6 ^ v14; h[7] ^= v7 ^ v15;
    }
    """
    void packetshipper_sha1_block(uint32_t* state, const unsigned char* block) noexcept nogil
    void packetshipper_b2_compress(uint64_t* h, const unsigned char* block, uint64_t counter, int last) noexcept nogil
    const uint64_t packetshipper_b2_iv[8]


cdef void _sha1_short(const unsigned char* msg, Py_ssize_t n, unsigned char* out) noexcept nogil:
    """SHA-1 (FIPS 180-4) of a message of at most 55 bytes: one padded block."""
    cdef unsigned char block[64]
    cdef uint32_t state[5]
    state[0], state[1], state[2], state[3], state[4] = 0x67452301U, 0xEFCDAB89U, 0x98BADCFEU, 0x10325476U, 0xC3D2E1F0U
    memset(block, 0, 64)
    memcpy(block, msg, n)
    block[n] = 0x80
    block[62] = <unsigned char>((n * 8) >> 8)
    block[63] = <unsigned char>(n * 8)
    packetshipper_sha1_block(state, block)
    _be32(out, state[0])
    _be32(out + 4, state[1])
    _be32(out + 8, state[2])
    _be32(out + 12, state[3])
    _be32(out + 16, state[4])


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

DEF _ISO_SECONDS = 256  # seconds whose text is kept (direct-mapped): a report's flows end in many seconds

cdef long long _iso_seconds[_ISO_SECONDS]  # which second each entry formats (-1: none yet)
cdef char _iso_prefixes[_ISO_SECONDS][20]  # `YYYY-MM-DDTHH:MM:SS` of that second

memset(_iso_seconds, 0xFF, sizeof(_iso_seconds))  # every entry -1


cdef int _iso_text(double ts, char* text) noexcept:
    """iso_timestamp(ts) into `text` (27 bytes): `2026-11-23T06:54:57.123456Z`, the nearest microsecond
    (half to even, as Python's round), the second through the C library's gmtime and strftime as
    time.strftime does. 0 where the reference must answer: negative, NaN, past year 9000, or a second
    the C library cannot format."""
    cdef double us = ts * 1e6
    cdef long long whole, second, micros
    cdef time_t t
    cdef tm parts
    cdef int slot, i
    if not (0.0 <= us < 2.5e17):
        return 0
    whole = <long long>nearbyint(us)
    second = whole // 1000000
    slot = second % _ISO_SECONDS
    if _iso_seconds[slot] != second:
        t = <time_t>second
        if gmtime_r(&t, &parts) == NULL or strftime(_iso_prefixes[slot], 20, "%Y-%m-%dT%H:%M:%S", &parts) != 19:
            _iso_seconds[slot] = -1
            return 0
        _iso_seconds[slot] = second
    memcpy(text, _iso_prefixes[slot], 19)
    text[19] = 46  # '.'
    micros = whole - second * 1000000
    for i in range(25, 19, -1):
        text[i] = <char>(48 + micros % 10)
        micros //= 10
    text[26] = 90  # 'Z'
    return 27


cdef str _iso(double ts, reference):
    """iso_timestamp(ts) (see _iso_text)."""
    cdef char text[32]
    if not _iso_text(ts, text):
        return reference(ts)
    return PyUnicode_DecodeASCII(text, 27, NULL)


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


# --- the flow id: blake2b (RFC 7693, 15-byte digest) of flows.flow_id_material, URL-safe base64 -------------

cdef const char* _B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


cdef void _blake2b(const unsigned char* data, Py_ssize_t n, int digest_size, unsigned char* out) noexcept nogil:
    """Unkeyed BLAKE2b with a digest of `digest_size` (1..64) bytes."""
    cdef uint64_t h[8]
    cdef unsigned char block[128]
    cdef Py_ssize_t done = 0
    cdef int i
    for i in range(8):
        h[i] = packetshipper_b2_iv[i]
    h[0] ^= 0x01010000ULL ^ <uint64_t>digest_size
    while n - done > 128:
        packetshipper_b2_compress(h, data + done, <uint64_t>(done + 128), 0)
        done += 128
    memset(block, 0, 128)
    memcpy(block, data + done, n - done)
    packetshipper_b2_compress(h, block, <uint64_t>n, 1)
    for i in range(digest_size):
        out[i] = <unsigned char>(h[i // 8] >> (8 * (i % 8)))


cdef str _flow_id_of(bytes material):
    """urlsafe_b64encode(blake2b(material, digest_size=15).digest()).decode()"""
    return _flow_id_text(<const unsigned char*>(<const char*>material), len(material))


cdef str _flow_id_text(const unsigned char* material, Py_ssize_t n):
    cdef unsigned char digest[15]
    cdef char text[20]
    _blake2b(material, n, 15, digest)
    return PyUnicode_DecodeASCII(text, _base64(digest, 15, _B64URL, text), NULL)


def flow_id(bytes prefix, table_id, key, ts) -> str:
    """Flow.__init__'s flow id: BLAKE2b of flows.flow_id_material(prefix, table_id, key, ts)."""
    return _flow_id(prefix, table_id, key, ts)


cdef object _flow_id_material = None  # flows.flow_id_material, for the shapes not packed here


cdef str _flow_id(bytes prefix, table_id, key, ts):
    global _flow_id_material
    cdef unsigned char material[256]
    cdef Py_ssize_t plen, klen, n
    cdef uint64_t bits
    cdef double start
    cdef int i
    if type(key) is bytes and type(ts) is float:
        plen = len(prefix)
        klen = len(<bytes>key)
        n = plen + klen + 8
        if n <= 256:
            memcpy(material, <const char*>prefix, plen)
            memcpy(material + plen, <const char*>(<bytes>key), klen)
            start = ts
            memcpy(&bits, &start, 8)
            for i in range(8):  # little-endian, whatever the host's order
                material[plen + klen + i] = <unsigned char>(bits >> (8 * i))
            return _flow_id_text(material, n)
    if _flow_id_material is None:  # imported here: flows.py imports this module
        from packetshipper.flows import flow_id_material
        _flow_id_material = flow_id_material
    return _flow_id_of(_flow_id_material(prefix, table_id, key, ts))


def blake2b_digest(data: bytes, int digest_size) -> bytes:
    """BLAKE2b as this module computes it (for tests against hashlib)."""
    cdef unsigned char out[64]
    if not 1 <= digest_size <= 64:
        raise ValueError("digest_size must be 1..64")
    _blake2b(<const unsigned char*>(<bytes>data), len(data), digest_size, out)
    return PyBytes_FromStringAndSize(<const char*>out, digest_size)
