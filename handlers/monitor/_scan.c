/* The matcher's per-post hot loop in C (see scan.py, which builds the table and holds the same scan in Python).
 *
 * One pass over a post's text folds it (NFKC + casefold, by table, for characters whose folding does not
 * depend on their neighbours), splits it into tokens, and collects its hashtags, the hosts of its http(s)
 * URLs and a hash of each token. A hash set of token hashes then tells the matcher which of the tokens
 * its patterns are indexed under a post holds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define TABLE_END 0x20000 /* the table has one entry per code point below this */

/* Table entry: the folded code point (or, with MULTI, the table index of up to three, 0-padded), the
 * character's class, and UNSAFE when folding it needs unicodedata (it changes under NFKC, or may combine
 * with a neighbour). */
#define ENTRY_VALUE 0xFFFFFFu
#define ENTRY_CLASS(e) (((e) >> 24) & 3u)
#define MULTI (1u << 26)
#define UNSAFE (1u << 27)

enum { SEPARATOR = 0, WORD = 1, UNSPACED = 2 };

#define FNV_PRIME 0x100000001b3ull

/* FNV-1a's offset basis, keyed at import with Python's per-process hash secret, so that no one can craft
 * a token whose hash collides with a watched term's. */
static uint64_t fnv_offset = 0xcbf29ce484222325ull;

typedef struct {
    PyObject *text;
    int kind;
    const void *data;
    Py_ssize_t length;
    const uint32_t *table;
    int folded; /* the text is folded already: classes only, no folding */
} Text;

typedef struct {
    Py_UCS4 *out;      /* token text */
    Py_ssize_t n;
    Py_UCS4 *scratch;  /* one hashtag at a time */
    uint64_t *hashes;  /* one per token */
    Py_ssize_t n_hashes;
    PyObject *tags;    /* lists, created on first use */
    PyObject *hosts;
} Scan;

static inline unsigned
class_of(const Text *t, Py_UCS4 ch)
{
    return ch < TABLE_END ? ENTRY_CLASS(t->table[ch]) : WORD;
}

static inline Py_UCS4
char_at(const Text *t, Py_ssize_t i)
{
    return PyUnicode_READ(t->kind, t->data, i);
}

/* Write the folded form of `ch` (one to three code points) to `dst`; the number written. */
static inline int
fold_char(const Text *t, Py_UCS4 ch, Py_UCS4 *dst)
{
    if (t->folded || ch >= TABLE_END) {
        dst[0] = ch;
        return 1;
    }
    uint32_t entry = t->table[ch];
    if (!(entry & MULTI)) {
        dst[0] = entry & ENTRY_VALUE;
        return 1;
    }
    const uint32_t *chars = t->table + (entry & ENTRY_VALUE);
    int n = 0;
    while (n < 3 && chars[n])
        dst[n] = chars[n], n++;
    return n;
}

static inline uint64_t
fnv(uint64_t hash, Py_UCS4 ch)
{
    return (hash ^ ch) * FNV_PRIME;
}

/* True when the `#` at `i` starts a hashtag: it follows no word character, no `&` (`&#39;`) and no `/`
 * (`/#section`). A `#` inside a URL (see url_end) is its fragment, never a hashtag. */
static int
opens_hashtag(const Text *t, Py_ssize_t i)
{
    if (i == 0)
        return 1;
    Py_UCS4 before = char_at(t, i - 1);
    return before != '&' && before != '/' && class_of(t, before) == SEPARATOR;
}

/* The end of the URL whose `://` is at `i` (the next whitespace), or `i` when there is no `://` at `i`. */
static Py_ssize_t
url_end(const Text *t, Py_ssize_t i)
{
    if (i + 2 >= t->length || char_at(t, i + 1) != '/' || char_at(t, i + 2) != '/')
        return i;
    Py_ssize_t end = i + 3;
    while (end < t->length && !Py_UNICODE_ISSPACE(char_at(t, end)))
        end++;
    return end;
}

/* Terms written with symbols (`C#`, `F#`, `C++`, `.NET`) are tokens with their symbols: the number of
 * characters at the separator `i` that join the token, or 0. A `#` or `++` joins the word before it when no
 * word character follows; a `.` joins the word after it when it starts that word (at the start of the text
 * or after a separator other than `.`) and the word does not start with a digit (` .5`). */
static Py_ssize_t
suffix_at(const Text *t, Py_ssize_t i, Py_UCS4 ch)
{
    Py_ssize_t k = ch == '#' ? 1 : ch == '+' && i + 1 < t->length && char_at(t, i + 1) == '+' ? 2 : 0;
    if (k == 0 || (i + k < t->length && class_of(t, char_at(t, i + k)) == WORD))
        return 0;
    return k;
}

static int
prefix_at(const Text *t, Py_ssize_t i)
{
    if (i + 1 >= t->length)
        return 0;
    Py_UCS4 after = char_at(t, i + 1);
    if (class_of(t, after) != WORD || (after >= '0' && after <= '9'))
        return 0;
    if (i == 0)
        return 1;
    Py_UCS4 before = char_at(t, i - 1);
    return before != '.' && class_of(t, before) == SEPARATOR;
}

/* Append a new reference `item` (NULL: an error is set) to `*list`, creating the list on first use;
 * 0, or -1 on error. */
static int
append_new(PyObject **list, PyObject *item)
{
    if (item == NULL)
        return -1;
    if (*list == NULL && (*list = PyList_New(0)) == NULL) {
        Py_DECREF(item);
        return -1;
    }
    int failed = PyList_Append(*list, item);
    Py_DECREF(item);
    return failed;
}

/* Append the folded hashtag after the `#` at `i` to the scan's tags. */
static int
add_hashtag(const Text *t, Py_ssize_t i, Scan *s)
{
    Py_ssize_t n = 0;
    for (Py_ssize_t j = i + 1; j < t->length; j++) {
        Py_UCS4 ch = char_at(t, j);
        if (class_of(t, ch) == SEPARATOR)
            break;
        n += fold_char(t, ch, s->scratch + n);
    }
    if (n == 0)
        return 0;
    return append_new(&s->tags, PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s->scratch, n));
}

/* True when the character at `i` may be part of a URL's host (and port, user, IPv6 brackets). */
static inline int
in_host(const Text *t, Py_ssize_t i)
{
    Py_UCS4 ch = char_at(t, i);
    return class_of(t, ch) != SEPARATOR || ch == '.' || ch == ':' || ch == '@' || ch == '[' || ch == ']'
           || ch == '%' || ch == '-';
}

/* True when the `len` characters before `end` are `scheme` (lower-case ASCII), ignoring ASCII case. */
static int
ends_with_scheme(const Text *t, Py_ssize_t end, const char *scheme, Py_ssize_t len)
{
    if (end < len)
        return 0;
    for (Py_ssize_t k = 0; k < len; k++) {
        Py_UCS4 ch = char_at(t, end - len + k);
        if ((ch >= 'A' && ch <= 'Z' ? ch + ('a' - 'A') : ch) != (Py_UCS4)scheme[k])
            return 0;
    }
    return 1;
}

/* The end of the host of an http(s) URL whose `://` starts at `i`, or `i` when there is none: the scheme
 * must start the text or follow a separator, and the host is not empty. */
static Py_ssize_t
url_host_end(const Text *t, Py_ssize_t i)
{
    if (i + 3 >= t->length || char_at(t, i + 1) != '/' || char_at(t, i + 2) != '/')
        return i;
    Py_ssize_t begin = ends_with_scheme(t, i, "https", 5) ? i - 5 : ends_with_scheme(t, i, "http", 4) ? i - 4 : -1;
    if (begin < 0 || (begin > 0 && class_of(t, char_at(t, begin - 1)) != SEPARATOR))
        return i;
    Py_ssize_t end = i + 3;
    while (end < t->length && in_host(t, end))
        end++;
    return end == i + 3 ? i : end;
}

/* Append the host `text[start:end]`, as written, to the scan's hosts. */
static int
add_host(const Text *t, Py_ssize_t start, Py_ssize_t end, Scan *s)
{
    return append_new(&s->hosts, PyUnicode_Substring(t->text, start, end));
}

/* Scan the text into `s`: 1 when done, 0 when it holds a character that only unicodedata can fold
 * (and the text is not folded yet), -1 on error. Always inlined into one copy per string kind, so the
 * character reads compile to plain loads; the loop's state lives in locals (the output may alias nothing
 * the compiler must reload). */
static Py_ALWAYS_INLINE int
scan_kind(const Text *t, int kind, Scan *s)
{
    const void *data = t->data;
    const uint32_t *table = t->table;
    const int folded = t->folded;
    const Py_ssize_t length = t->length;
    Py_UCS4 *restrict out = s->out;
    uint64_t *restrict hashes = s->hashes;
    Py_ssize_t n = 0, n_hashes = 0;
    Py_ssize_t host_end = 0; /* a `://` before host_end is inside the last URL's host */
    Py_ssize_t in_url = 0;   /* a `#` before in_url is a URL's fragment */
    const uint64_t offset = fnv_offset;
    uint64_t hash = offset;
    int at_space = 1;
    out[n++] = ' ';
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_UCS4 ch = PyUnicode_READ(kind, data, i);
        uint32_t entry;
        if (ch < TABLE_END) {
            entry = table[ch];
            if (folded)
                entry = (entry & ~(ENTRY_VALUE | MULTI)) | ch;
            else if (entry & UNSAFE)
                return 0;
        } else if (folded) {
            entry = ((uint32_t)WORD << 24) | ch;
        } else {
            return 0;
        }
        unsigned cls = ENTRY_CLASS(entry);
        if (cls == WORD && !(entry & MULTI)) {
            Py_UCS4 c = entry & ENTRY_VALUE;
            out[n++] = c;
            hash = fnv(hash, c);
            at_space = 0;
            continue;
        }
        if (cls == WORD) {
            int k = fold_char(t, ch, out + n);
            for (int j = 0; j < k; j++)
                hash = fnv(hash, out[n + j]);
            n += k;
            at_space = 0;
            continue;
        }
        if (cls == SEPARATOR && (ch == '#' || ch == '+' || ch == '.')) {
            Py_ssize_t k = !at_space ? suffix_at(t, i, ch) : ch == '.' && prefix_at(t, i);
            if (k) {
                for (Py_ssize_t j = 0; j < k; j++) {
                    out[n++] = ch;
                    hash = fnv(hash, ch);
                }
                i += k - 1;
                at_space = 0;
                if (ch == '.')
                    continue;
                hashes[n_hashes++] = hash; /* a suffix ends its token */
                hash = offset;
                out[n++] = ' ';
                at_space = 1;
                continue;
            }
        }
        if (!at_space) {
            hashes[n_hashes++] = hash;
            hash = offset;
            out[n++] = ' ';
        }
        at_space = 1;
        if (cls == UNSPACED) {
            int k = fold_char(t, ch, out + n);
            uint64_t own = offset;
            for (int j = 0; j < k; j++)
                own = fnv(own, out[n + j]);
            hashes[n_hashes++] = own;
            n += k;
            out[n++] = ' ';
        } else if (ch == '#' && i >= in_url && opens_hashtag(t, i)) {
            if (add_hashtag(t, i, s) < 0)
                return -1;
        } else if (ch == ':') {
            if (i >= in_url)
                in_url = url_end(t, i);
            if (i >= host_end) {
                host_end = url_host_end(t, i);
                if (host_end > i && add_host(t, i + 3, host_end, s) < 0)
                    return -1;
            }
        }
    }
    if (!at_space)
        hashes[n_hashes++] = hash;
    if (n == 1 || !at_space)
        out[n++] = ' ';
    s->n = n;
    s->n_hashes = n_hashes;
    return 1;
}

static int
scan_text(const Text *t, Scan *s)
{
    switch (t->kind) {
    case PyUnicode_1BYTE_KIND:
        return scan_kind(t, PyUnicode_1BYTE_KIND, s);
    case PyUnicode_2BYTE_KIND:
        return scan_kind(t, PyUnicode_2BYTE_KIND, s);
    default:
        return scan_kind(t, PyUnicode_4BYTE_KIND, s);
    }
}

/* A tuple of the items of `list`, the empty tuple for NULL; steals the reference to `list`. */
static PyObject *
as_tuple(PyObject *list)
{
    if (list == NULL)
        return PyTuple_New(0);
    PyObject *tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return tuple;
}

/* The result tuple of a finished scan; releases the scan's lists. */
static PyObject *
scan_result(Scan *s)
{
    PyObject *tokens = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, s->out, s->n);
    PyObject *tags = as_tuple(s->tags), *hosts = as_tuple(s->hosts);
    PyObject *hashes = PyBytes_FromStringAndSize((const char *)s->hashes, s->n_hashes * (Py_ssize_t)sizeof(uint64_t));
    PyObject *result = NULL;
    if (tokens != NULL && tags != NULL && hosts != NULL && hashes != NULL)
        result = PyTuple_Pack(4, tokens, tags, hosts, hashes);
    Py_XDECREF(tokens);
    Py_XDECREF(tags);
    Py_XDECREF(hosts);
    Py_XDECREF(hashes);
    return result;
}

/* scan(table, text, folded) -> (token_text, hashtags, hosts, token_hashes) or None
 *
 * token_text is " tok tok ... " (two spaces when there is no token) of the folded text; hashtags holds the
 * folded runs of non-separators right after each `#` that opens a hashtag; hosts the hosts of the http(s)
 * URLs, as written; token_hashes one 64-bit FNV-1a hash (native byte order) per token of token_text.
 * None when `folded` is false and the text holds a character that only unicodedata can fold: fold the text,
 * then scan it with `folded` true.
 */
static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyBytes_Check(args[0]) || !PyUnicode_Check(args[1])
        || PyBytes_GET_SIZE(args[0]) < (Py_ssize_t)(TABLE_END * sizeof(uint32_t))) {
        PyErr_SetString(PyExc_TypeError, "scan(table: bytes, text: str, folded: bool)");
        return NULL;
    }
    Text t = {
        .text = args[1],
        .kind = PyUnicode_KIND(args[1]),
        .data = PyUnicode_DATA(args[1]),
        .length = PyUnicode_GET_LENGTH(args[1]),
        .table = (const uint32_t *)PyBytes_AS_STRING(args[0]),
        .folded = PyObject_IsTrue(args[2]),
    };
    if (t.folded < 0)
        return NULL;
    /* Per character at most five out (a space, three folded, a space), three in a hashtag, one hash. */
    size_t chars = (size_t)(8 * t.length + 2), bytes = chars * sizeof(Py_UCS4) + (t.length + 1) * sizeof(uint64_t);
    uint64_t stack[4096];
    void *buffer = bytes <= sizeof(stack) ? stack : PyMem_Malloc(bytes);
    if (buffer == NULL)
        return PyErr_NoMemory();
    Scan s = {
        .hashes = buffer,
        .out = (Py_UCS4 *)((uint64_t *)buffer + t.length + 1),
    };
    s.scratch = s.out + 5 * t.length + 2;
    int done = scan_text(&t, &s);
    PyObject *result = done > 0 ? scan_result(&s) : NULL;
    if (done <= 0) {
        Py_XDECREF(s.tags);
        Py_XDECREF(s.hosts);
    }
    if (buffer != stack)
        PyMem_Free(buffer);
    if (done == 0)
        Py_RETURN_NONE;
    return result;
}

/* The slot of hash `h` in a table of `mask + 1` slots: FNV-1a mixes its low bits poorly, so finish it. */
static inline uint64_t
slot_of(uint64_t h, uint64_t mask)
{
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return (h ^ (h >> 31)) & mask;
}

/* A stored hash is never 0, which marks an empty slot. */
static inline uint64_t
stored(uint64_t h)
{
    return h ? h : 1;
}

/* A token set is a bytearray of 64-bit slots (a power of two of them, at least 8), open addressing with
 * linear probing, 0 marking an empty slot. Its owner keeps it at most half full (token_set sizes it, and
 * the owner makes a bigger one before adding past half), so every probe ends at an empty slot. */
typedef struct {
    uint64_t *slots;
    uint64_t mask;
} Table;

static int
as_table(PyObject *set, Table *table)
{
    if (!PyByteArray_Check(set) || PyByteArray_GET_SIZE(set) < 64
        || (PyByteArray_GET_SIZE(set) & (PyByteArray_GET_SIZE(set) - 1))) {
        PyErr_SetString(PyExc_TypeError, "a token set is a bytearray made by token_set");
        return -1;
    }
    table->slots = (uint64_t *)PyByteArray_AS_STRING(set);
    table->mask = (uint64_t)PyByteArray_GET_SIZE(set) / sizeof(uint64_t) - 1;
    return 0;
}

/* The slot holding `key`, or the empty slot where it would go. */
static inline uint64_t
find_slot(const Table *table, uint64_t key)
{
    uint64_t at = slot_of(key, table->mask);
    while (table->slots[at] && table->slots[at] != key)
        at = (at + 1) & table->mask;
    return at;
}

/* token_set(hashes, capacity=0) -> bytearray: a token set holding the token hashes (as from scan), with
 * room for `capacity` hashes (at least as many as given) at most half full. Exact but for 64-bit hash
 * collisions. */
static PyObject *
token_set(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t capacity = 0;
    if (nargs < 1 || nargs > 2 || !PyBytes_Check(args[0]) || PyBytes_GET_SIZE(args[0]) % sizeof(uint64_t)
        || (nargs == 2 && ((capacity = PyLong_AsSsize_t(args[1])) < 0))) {
        if (!PyErr_Occurred() || PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_SetString(PyExc_TypeError, "token_set(hashes: bytes of 64-bit hashes, capacity: int = 0)");
        }
        return NULL;
    }
    Py_ssize_t count = PyBytes_GET_SIZE(args[0]) / (Py_ssize_t)sizeof(uint64_t);
    uint64_t wanted = 2 * (uint64_t)(count > capacity ? count : capacity), slots = 8;
    while (slots < wanted)
        slots <<= 1;
    PyObject *set = PyByteArray_FromStringAndSize(NULL, (Py_ssize_t)(slots * sizeof(uint64_t)));
    if (set == NULL)
        return NULL;
    Table table = {(uint64_t *)PyByteArray_AS_STRING(set), slots - 1};
    memset(table.slots, 0, slots * sizeof(uint64_t));
    const char *keys = PyBytes_AS_STRING(args[0]);
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t h;
        memcpy(&h, keys + i * sizeof(uint64_t), sizeof h);
        h = stored(h);
        table.slots[find_slot(&table, h)] = h;
    }
    return set;
}

static int
hash_arg(PyObject *value, uint64_t *hash)
{
    unsigned long long h = PyLong_AsUnsignedLongLong(value);
    if (h == (unsigned long long)-1 && PyErr_Occurred())
        return -1;
    *hash = stored((uint64_t)h);
    return 0;
}

/* token_set_add(set, hash) -> bool: add a hash (True when it was not there). The caller keeps the set at
 * most half full. */
static PyObject *
token_set_add(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Table table;
    uint64_t key;
    if (nargs != 2 || as_table(args[0], &table) < 0 || hash_arg(args[1], &key) < 0)
        return NULL;
    uint64_t at = find_slot(&table, key);
    if (table.slots[at])
        Py_RETURN_FALSE;
    table.slots[at] = key;
    Py_RETURN_TRUE;
}

/* token_set_discard(set, hash) -> bool: remove a hash (True when it was there), shifting back the entries
 * of its probe run so that every remaining one is still found. */
static PyObject *
token_set_discard(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Table table;
    uint64_t key;
    if (nargs != 2 || as_table(args[0], &table) < 0 || hash_arg(args[1], &key) < 0)
        return NULL;
    uint64_t hole = find_slot(&table, key);
    if (!table.slots[hole])
        Py_RETURN_FALSE;
    for (uint64_t at = (hole + 1) & table.mask; table.slots[at]; at = (at + 1) & table.mask) {
        uint64_t home = slot_of(table.slots[at], table.mask);
        /* the entry at `at` may move into the hole when its home is not cyclically in (hole, at] */
        if (((at - home) & table.mask) >= ((at - hole) & table.mask)) {
            table.slots[hole] = table.slots[at];
            hole = at;
        }
    }
    table.slots[hole] = 0;
    Py_RETURN_TRUE;
}

/* tokens_in(set, hashes) -> tuple[int, ...]: the distinct token hashes that are in the set, in order of
 * first appearance. Linear in the number of hashes: repeats are told apart by a scratch hash set. */
static PyObject *
tokens_in(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    Table table;
    if (nargs != 2 || as_table(args[0], &table) < 0)
        return NULL;
    if (!PyBytes_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "tokens_in(set: bytearray, hashes: bytes)");
        return NULL;
    }
    const char *hashes = PyBytes_AS_STRING(args[1]);
    Py_ssize_t count = PyBytes_GET_SIZE(args[1]) / (Py_ssize_t)sizeof(uint64_t);
    uint64_t seen_slots = 16;
    while (seen_slots < 2 * (uint64_t)count)
        seen_slots <<= 1;
    uint64_t stack[512];
    size_t words = (size_t)count + seen_slots;
    uint64_t *found = words <= Py_ARRAY_LENGTH(stack) ? stack : PyMem_Malloc(words * sizeof(uint64_t));
    if (found == NULL)
        return PyErr_NoMemory();
    Table seen = {found + count, seen_slots - 1};
    memset(seen.slots, 0, seen_slots * sizeof(uint64_t));
    Py_ssize_t n_found = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t h;
        memcpy(&h, hashes + i * sizeof(uint64_t), sizeof h);
        uint64_t key = stored(h);
        if (table.slots[find_slot(&table, key)] != key)
            continue;
        uint64_t at = find_slot(&seen, key);
        if (seen.slots[at])
            continue;
        seen.slots[at] = key;
        found[n_found++] = h;
    }
    PyObject *result = PyTuple_New(n_found);
    for (Py_ssize_t k = 0; result != NULL && k < n_found; k++) {
        PyObject *value = PyLong_FromUnsignedLongLong(found[k]);
        if (value == NULL)
            Py_CLEAR(result);
        else
            PyTuple_SET_ITEM(result, k, value);
    }
    if (found != stack)
        PyMem_Free(found);
    return result;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(table, text, folded) -> (token_text, hashtags, hosts, token_hashes), or None: fold first."},
    {"token_set", (PyCFunction)(void (*)(void))token_set, METH_FASTCALL,
     "token_set(hashes, capacity=0) -> bytearray: a hash set of token hashes."},
    {"token_set_add", (PyCFunction)(void (*)(void))token_set_add, METH_FASTCALL,
     "token_set_add(set, hash) -> bool: add a token hash (the set must stay at most half full)."},
    {"token_set_discard", (PyCFunction)(void (*)(void))token_set_discard, METH_FASTCALL,
     "token_set_discard(set, hash) -> bool: remove a token hash."},
    {"tokens_in", (PyCFunction)(void (*)(void))tokens_in, METH_FASTCALL,
     "tokens_in(set, hashes) -> tuple[int, ...]: the distinct token hashes in the set."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    .m_base = PyModuleDef_HEAD_INIT,
    .m_name = "_scan",
    .m_doc = "The matcher's per-post text scan and token set (see scan.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__scan(void)
{
    PyObject *key = PyUnicode_FromString("socmint token hash");
    Py_hash_t secret = key == NULL ? -1 : PyObject_Hash(key);
    Py_XDECREF(key);
    if (secret == -1 && PyErr_Occurred())
        return NULL;
    fnv_offset ^= (uint64_t)secret * 0x9e3779b97f4a7c15ull;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "TABLE_END", TABLE_END) < 0)
        Py_CLEAR(m);
    return m;
}
