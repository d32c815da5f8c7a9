/*
 * C speed-ups, each with a Python reference it is tested against:
 *
 * - Plan: the CSV fast path of a submission (below);
 * - merkle_root: the RFC 6962 root of concatenated leaf hashes (ledger.proofs.MerkleTree);
 * - record_keys: the 64-bit look-up keys of record ids (ledger.store.leaves.record_key).
 *
 * The CSV fast path: one C pass per chunk of rows that does what
 * ledger/anchoring/process.py does per row in Python (validate, desensitise,
 * leak guard, salt, RFC 8785 canonical bytes, RFC 6962 leaf hash).
 *
 * It only ever *accepts* a row when the Python path would accept it with the
 * same bytes: every cell must be already in normal form (no surrounding spaces,
 * upper-case codes, 2-digit amounts or a plain decimal), every rule must hold,
 * the leak guard must find nothing. Any doubt about a row hands that row to a
 * Python callback that runs the reference path (which names every problem);
 * anything unusual about the text itself (a quoted cell spanning lines, a quote
 * inside an unquoted cell, a lone CR, a NUL) stops the pass, and Python takes
 * the rest of the chunk. tests/anchoring/test_rowfast.py holds the two paths
 * to identical results on generated and perturbed rows.
 *
 * The schema table below mirrors ledger/records/schema.py field by field; the
 * module exports it as SCHEMA and the Python side refuses the fast path when
 * the two differ.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- schema */

enum Kind {
    K_CODE, K_TEXT, K_NAME, K_ENUM, K_DATE, K_MONTH, K_DECIMAL, K_INT,
    K_USCC, K_ID_NUMBER, K_MOBILE, K_CURRENCY, K_FUNDERS, K_ID_LIST
};
static const char *KIND_NAMES[] = {
    "code", "text", "name", "enum", "date", "month", "decimal", "int",
    "uscc", "id_number", "mobile", "currency", "funders", "id_list"
};

enum Field {
    F_REPORT_ID, F_REPORTER_ORG_CODE, F_PERIOD, F_REPORT_DATE, F_SUBJECT_NAME,
    F_SUBJECT_ID_TYPE, F_SUBJECT_ID_NUMBER, F_SUBJECT_MOBILE, F_ACCOUNT_ID,
    F_ACCOUNT_TYPE, F_BUSINESS_TYPE, F_OPEN_DATE, F_DUE_DATE, F_CURRENCY,
    F_PRINCIPAL, F_CREDIT_LIMIT, F_GUARANTEE_TYPE, F_REPAYMENT_FREQUENCY,
    F_INSTALMENTS_TOTAL, F_INSTALMENTS_REMAINING, F_AMOUNT_DUE, F_AMOUNT_PAID,
    F_LAST_PAYMENT_DATE, F_BALANCE, F_OVERDUE_INSTALMENTS, F_OVERDUE_AMOUNT,
    F_OP_31_60, F_OP_61_90, F_OP_91_180, F_OP_180_PLUS, F_DAYS_PAST_DUE,
    F_FIVE_CLASS, F_ACCOUNT_STATUS, F_REPAYMENT_STATUS, F_FUNDERS, F_CONSENT_IDS,
    NF
};

/* Character classes of the code patterns (each pattern is "[class]{min,max}"). */
enum Class { C_ID, C_BUSINESS, C_REPAYMENT, C_NONE };
static const char *CLASS_PATTERNS[] = {
    "[A-Za-z0-9_-]{1,64}", "[0-9A-Z]{1,4}", "[N1-7CGDZ*#]{1,24}", ""
};
static const char *CLASS_MEMBERS[] = {
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-",
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "N1234567CGDZ*#",
    ""
};
static const int CLASS_MIN[] = {1, 1, 1, 0}, CLASS_MAX[] = {64, 4, 24, 0};
static unsigned char CLASS_TABLE[C_NONE][256];

#define ACCOUNT_TEXT_PATTERN "(?=\\S)[^\\x00-\\x1f\\x7f-\\x9f]{1,64}(?<=\\S)"

typedef struct {
    const char *name;
    enum Kind kind;
    int required;
    int personal;               /* C2: a canary for the leak guard */
    const char *choices;        /* enum: space-separated */
    enum Class cls;             /* code / id_list entries */
    const char *pattern;        /* text: the pattern it stands for */
} Spec;

static const Spec SPECS[NF] = {
    {"report_id", K_CODE, 1, 0, NULL, C_ID, NULL},
    {"reporter_org_code", K_USCC, 1, 0, NULL, C_NONE, NULL},
    {"period", K_MONTH, 1, 0, NULL, C_NONE, NULL},
    {"report_date", K_DATE, 1, 0, NULL, C_NONE, NULL},
    {"subject_name", K_NAME, 1, 1, NULL, C_NONE, NULL},
    {"subject_id_type", K_ENUM, 1, 0, "10 2 5 6 8 X", C_NONE, NULL},
    {"subject_id_number", K_ID_NUMBER, 1, 1, NULL, C_NONE, NULL},
    {"subject_mobile", K_MOBILE, 0, 1, NULL, C_NONE, NULL},
    {"account_id", K_TEXT, 1, 1, NULL, C_NONE, ACCOUNT_TEXT_PATTERN},
    {"account_type", K_ENUM, 1, 0, "D1 R1 R2 R4", C_NONE, NULL},
    {"business_type", K_CODE, 1, 0, NULL, C_BUSINESS, NULL},
    {"open_date", K_DATE, 1, 0, NULL, C_NONE, NULL},
    {"due_date", K_DATE, 0, 0, NULL, C_NONE, NULL},
    {"currency", K_CURRENCY, 0, 0, NULL, C_NONE, NULL},
    {"principal", K_DECIMAL, 1, 0, NULL, C_NONE, NULL},
    {"credit_limit", K_DECIMAL, 0, 0, NULL, C_NONE, NULL},
    {"guarantee_type", K_ENUM, 1, 0, "1 2 3 4 5 6 7 9", C_NONE, NULL},
    {"repayment_frequency", K_ENUM, 1, 0, "D H M O Q W X Y", C_NONE, NULL},
    {"instalments_total", K_INT, 1, 0, NULL, C_NONE, NULL},
    {"instalments_remaining", K_INT, 1, 0, NULL, C_NONE, NULL},
    {"amount_due", K_DECIMAL, 1, 0, NULL, C_NONE, NULL},
    {"amount_paid", K_DECIMAL, 1, 0, NULL, C_NONE, NULL},
    {"last_payment_date", K_DATE, 0, 0, NULL, C_NONE, NULL},
    {"balance", K_DECIMAL, 1, 0, NULL, C_NONE, NULL},
    {"overdue_instalments", K_INT, 1, 0, NULL, C_NONE, NULL},
    {"overdue_amount", K_DECIMAL, 1, 0, NULL, C_NONE, NULL},
    {"overdue_principal_31_60", K_DECIMAL, 0, 0, NULL, C_NONE, NULL},
    {"overdue_principal_61_90", K_DECIMAL, 0, 0, NULL, C_NONE, NULL},
    {"overdue_principal_91_180", K_DECIMAL, 0, 0, NULL, C_NONE, NULL},
    {"overdue_principal_180_plus", K_DECIMAL, 0, 0, NULL, C_NONE, NULL},
    {"days_past_due", K_INT, 1, 0, NULL, C_NONE, NULL},
    {"five_class", K_ENUM, 1, 0, "1 2 3 4 5 9", C_NONE, NULL},
    {"account_status", K_ENUM, 1, 0, "1 2 3 4 5 6", C_NONE, NULL},
    {"repayment_status", K_CODE, 1, 0, NULL, C_REPAYMENT, NULL},
    {"funders", K_FUNDERS, 0, 0, NULL, C_NONE, NULL},
    {"consent_ids", K_ID_LIST, 0, 0, NULL, C_ID, NULL},
};

#define MAX_LIST 100            /* entries of funders / consent_ids (schema MAX_LIST) */
#define FUNDERS_TOTAL_BP 10000
#define MAX_NAME 64

/* ---------------------------------------------------------------- buffers */

typedef struct { char *p; Py_ssize_t len, cap; } Buf;

static int buf_reserve(Buf *b, Py_ssize_t extra) {
    if (b->len + extra <= b->cap) return 0;
    Py_ssize_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    char *p = PyMem_RawRealloc(b->p, cap);
    if (!p) return -1;   /* callers report it (some run without the GIL) */
    b->p = p; b->cap = cap;
    return 0;
}
static inline int buf_put(Buf *b, const void *s, Py_ssize_t n) {
    if (buf_reserve(b, n) < 0) return -1;
    memcpy(b->p + b->len, s, n); b->len += n;
    return 0;
}
static inline int buf_putc(Buf *b, char c) {
    if (b->len >= b->cap && buf_reserve(b, 1) < 0) return -1;
    b->p[b->len++] = c;
    return 0;
}
static void buf_free(Buf *b) { PyMem_RawFree(b->p); b->p = NULL; b->len = b->cap = 0; }

typedef struct { const char *p; Py_ssize_t n; } Span;

static inline int span_is(Span s, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)s.n == n && memcmp(s.p, lit, n) == 0;
}
static inline int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
static inline int is_alnum(unsigned char c) {
    return is_digit(c) || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}
static const char HEX[] = "0123456789abcdef";

/* Decimal digits of v >= 0 into out (at least 20 bytes); returns the count. */
static int utoa(int64_t v, char *out) {
    char t[20];
    int n = 0;
    do { t[n++] = (char)('0' + v % 10); v /= 10; } while (v > 0);
    for (int i = 0; i < n; i++) out[i] = t[n - 1 - i];
    return n;
}

static void hex_into(char *out, const unsigned char *in, int n) {
    for (int i = 0; i < n; i++) { out[2 * i] = HEX[in[i] >> 4]; out[2 * i + 1] = HEX[in[i] & 15]; }
}

/* ---------------------------------------------------------------- field checks */

static int all_digits(const char *p, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) if (!is_digit((unsigned char)p[i])) return 0;
    return 1;
}

static int in_class(Span s, enum Class c) {
    if (s.n < CLASS_MIN[c] || s.n > CLASS_MAX[c]) return 0;
    const unsigned char *t = CLASS_TABLE[c];
    for (Py_ssize_t i = 0; i < s.n; i++) if (!t[(unsigned char)s.p[i]]) return 0;
    return 1;
}

static int days_in_month(int y, int m) {
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
    return d[m - 1];
}

/* date.fromisoformat on an already "dddd-dd-dd" string: a real calendar date, year >= 1. */
static int calendar_date(const char *p) {
    int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 + (p[2] - '0') * 10 + (p[3] - '0');
    int m = (p[5] - '0') * 10 + (p[6] - '0'), d = (p[8] - '0') * 10 + (p[9] - '0');
    return y >= 1 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

/* (?:19|20)[0-9]{2}-[01][0-9]-[0-3][0-9] and a calendar date */
static int check_date(Span s) {
    const char *p = s.p;
    if (s.n != 10 || p[4] != '-' || p[7] != '-') return 0;
    if (!((p[0] == '1' && p[1] == '9') || (p[0] == '2' && p[1] == '0'))) return 0;
    if (!is_digit(p[2]) || !is_digit(p[3]) || (p[5] != '0' && p[5] != '1') || !is_digit(p[6])) return 0;
    if (p[8] < '0' || p[8] > '3' || !is_digit(p[9])) return 0;
    return calendar_date(p);
}

/* (?:19|20)[0-9]{2}-(?:0[1-9]|1[0-2]) */
static int check_month(Span s) {
    const char *p = s.p;
    if (s.n != 7 || p[4] != '-') return 0;
    if (!((p[0] == '1' && p[1] == '9') || (p[0] == '2' && p[1] == '0'))) return 0;
    if (!is_digit(p[2]) || !is_digit(p[3])) return 0;
    return (p[5] == '0' && p[6] >= '1' && p[6] <= '9') || (p[5] == '1' && p[6] >= '0' && p[6] <= '2');
}

/* check_decimal: [0-9]{1,9}(\.[0-9]{1,2})? normalised to int(whole) "." 2 digits. */
static int check_decimal(Span s, char *out, Py_ssize_t *outn, int64_t *cents) {
    Py_ssize_t dot = -1;
    for (Py_ssize_t i = 0; i < s.n; i++) if (s.p[i] == '.') { dot = i; break; }
    Py_ssize_t whole = dot < 0 ? s.n : dot, frac = dot < 0 ? 0 : s.n - dot - 1;
    if (whole < 1 || whole > 9 || !all_digits(s.p, whole)) return 0;
    if (dot >= 0 && (frac < 1 || frac > 2 || !all_digits(s.p + dot + 1, frac))) return 0;
    int64_t w = 0;
    for (Py_ssize_t i = 0; i < whole; i++) w = w * 10 + (s.p[i] - '0');
    int f0 = frac >= 1 ? s.p[dot + 1] - '0' : 0, f1 = frac >= 2 ? s.p[dot + 2] - '0' : 0;
    *cents = w * 100 + f0 * 10 + f1;
    int n = utoa(w, out);
    out[n] = '.'; out[n + 1] = (char)('0' + f0); out[n + 2] = (char)('0' + f1);
    *outn = n + 3;
    return 1;
}

/* check_int on a CSV cell: ASCII digits, at most 9 of them. */
static int check_int(Span s, int64_t *v) {
    if (s.n < 1 || s.n > 9 || !all_digits(s.p, s.n)) return 0;
    int64_t x = 0;
    for (Py_ssize_t i = 0; i < s.n; i++) x = x * 10 + (s.p[i] - '0');
    *v = x;
    return 1;
}

static const char USCC_ALPHABET[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static int uscc_value(unsigned char c) {
    const char *q = c ? strchr(USCC_ALPHABET, c) : NULL;
    return q ? (int)(q - USCC_ALPHABET) : -1;
}
/* stdnum.cn.uscc.validate on an already compact, upper-case code. */
static int check_uscc(Span s) {
    static const int w[] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};
    if (s.n != 18 || !all_digits(s.p, 8)) return 0;
    int total = 0;
    for (int i = 8; i < 18; i++) if (uscc_value((unsigned char)s.p[i]) < 0) return 0;
    for (int i = 0; i < 17; i++) total += uscc_value((unsigned char)s.p[i]) * w[i];
    return s.p[17] == USCC_ALPHABET[(31 - total % 31) % 31];
}

static int check_enum(Span s, const char *choices) {
    const char *c = choices;
    while (*c) {
        const char *e = strchr(c, ' ');
        size_t n = e ? (size_t)(e - c) : strlen(c);
        if ((size_t)s.n == n && memcmp(s.p, c, n) == 0) return 1;
        if (!e) break;
        c = e + 1;
    }
    return 0;
}

/* Next code point of valid UTF-8 (the text came from a Python str). */
static Py_UCS4 utf8_next(const unsigned char **pp) {
    const unsigned char *p = *pp;
    Py_UCS4 c = *p;
    int extra = c < 0x80 ? 0 : c < 0xE0 ? 1 : c < 0xF0 ? 2 : 3;
    c = extra == 0 ? c : extra == 1 ? (c & 0x1F) : extra == 2 ? (c & 0x0F) : (c & 0x07);
    for (int i = 1; i <= extra; i++) c = (c << 6) | (p[i] & 0x3F);
    *pp = p + 1 + extra;
    return c;
}

static Py_ssize_t code_points(Span s) {
    Py_ssize_t n = 0;
    for (Py_ssize_t i = 0; i < s.n; i++) n += ((unsigned char)s.p[i] & 0xC0) != 0x80;
    return n;
}

/* check_name's common case: str.isalpha() and at most 64 characters. */
static int check_name(Span s) {
    if (s.n < 1) return 0;
    const unsigned char *p = (const unsigned char *)s.p, *end = p + s.n;
    Py_ssize_t count = 0;
    while (p < end) {
        if (!Py_UNICODE_ISALPHA(utf8_next(&p))) return 0;
        count++;
    }
    return count <= MAX_NAME;
}

static int check_id_number(Span s) {   /* [0-9A-Z]{5,32} */
    if (s.n < 5 || s.n > 32) return 0;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        unsigned char c = s.p[i];
        if (!is_digit(c) && !(c >= 'A' && c <= 'Z')) return 0;
    }
    return 1;
}

static int is_mobile(const char *p, Py_ssize_t n) {   /* 1[3-9][0-9]{9} */
    return n == 11 && p[0] == '1' && p[1] >= '3' && p[1] <= '9' && all_digits(p + 2, 9);
}

/* The account-id text pattern, for printable ASCII only (anything else: Python decides). */
static int check_account_text(Span s) {
    if (s.n < 1 || s.n > 64 || s.p[0] == ' ' || s.p[s.n - 1] == ' ') return 0;
    for (Py_ssize_t i = 0; i < s.n; i++) {
        unsigned char c = s.p[i];
        if (c < 0x20 || c > 0x7E) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- identifiers */

static const int RIC_WEIGHTS[17] = {7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2};
static const char RIC_CHARS[] = "10X98765432";

static char gb11643_check(const char *p) {
    int total = 0;
    for (int i = 0; i < 17; i++) total += (p[i] - '0') * RIC_WEIGHTS[i];
    return RIC_CHARS[total % 11];
}

static int luhn_valid(const char *p, Py_ssize_t n) {
    int total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        int v = p[n - 1 - i] - '0';
        if (i % 2) v = v > 4 ? v * 2 - 9 : v * 2;
        total += v;
    }
    return total % 10 == 0;
}

/* ---------------------------------------------------------------- the plan */

enum OpKind { O_KEEP, O_MASK, O_HMAC, O_AGE_BAND, O_PROVINCE, O_MONTH, O_KEY_IDS, O_SALT };
enum Mask { M_NAME, M_ID, M_MOBILE, M_CARD };

typedef struct {
    char *key;                  /* "\"name\":" */
    Py_ssize_t keylen;
    enum OpKind kind;
    int field, style, context;
    SHA256_CTX inner, outer;    /* hmac: the key's pads, label already in inner */
} Slot;

#define REGION_CACHE 65536      /* (region code, birth year) pairs known valid */

typedef struct {
    PyObject_HEAD
    int ncols;
    int *col_field;             /* header column -> field index, -1 unknown */
    int field_col[NF];          /* field -> header column, -1 absent */
    Slot *slots;
    int nslots, record_id_slot;
    char *key_ids_json;
    Py_ssize_t key_ids_len;
    char *key_id_texts;         /* the key ids, each followed by NUL: the guard scans them */
    Py_ssize_t key_id_len;
    char (*currencies)[4];
    int ncurrencies;
    char today[11];
    PyObject *facts;            /* resident_id_facts(number) -> (reason, born) */
    uint64_t *regions;
    int nregions;
} Plan;

/* ---------------------------------------------------------------- per-row state */

enum VType { V_ABSENT, V_STR, V_INT, V_FUNDERS, V_LIST, V_RAW };

typedef struct {
    enum VType t;
    Span s;                     /* V_STR text, V_LIST the cell, V_RAW json */
    int64_t i;                  /* V_INT value; decimals: cents */
} Val;

typedef struct {
    Span org[MAX_LIST];
    int64_t share[MAX_LIST];
    int n;
} Funders;

typedef struct {
    Val v[NF];
    char dec[NF][24];
    Funders funders;
    Val out[64];
    char scratch[64][72];       /* pseudonyms, generalisations, the salt */
    Buf masks;                  /* masks */
    Buf joined;                 /* the leak guard's view of the output */
} Row;

static int currency_known(Plan *pl, Span s) {
    if (s.n != 3) return 0;
    int lo = 0, hi = pl->ncurrencies - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = memcmp(s.p, pl->currencies[mid], 3);
        if (c == 0) return 1;
        if (c < 0) hi = mid - 1; else lo = mid + 1;
    }
    return 0;
}

static int funders_ok(Span s, Funders *f) {
    f->n = 0;
    int64_t total = 0;
    const char *p = s.p, *end = s.p + s.n;
    for (;;) {
        const char *bar = memchr(p, '|', end - p);
        const char *e = bar ? bar : end;
        const char *colon = memchr(p, ':', e - p);
        if (!colon || f->n >= MAX_LIST) return 0;
        Span org = {p, colon - p}, share = {colon + 1, e - colon - 1};
        int64_t bp;
        if (!check_uscc(org) || !check_int(share, &bp) || bp < 1 || bp > FUNDERS_TOTAL_BP) return 0;
        for (int i = 0; i < f->n; i++)
            if (f->org[i].n == org.n && memcmp(f->org[i].p, org.p, org.n) == 0) return 0;
        f->org[f->n] = org; f->share[f->n] = bp; f->n++;
        total += bp;
        if (!bar) break;
        p = bar + 1;
    }
    return total == FUNDERS_TOTAL_BP;
}

static int id_list_ok(Span s) {
    const char *p = s.p, *end = s.p + s.n;
    int count = 0;
    for (;;) {
        const char *bar = memchr(p, '|', end - p);
        const char *e = bar ? bar : end;
        Span item = {p, e - p};
        if (!in_class(item, C_ID) || ++count > MAX_LIST) return 0;
        if (!bar) return 1;
        p = bar + 1;
    }
}

/* One cell: 1 valid (value set), 0 not known to be valid. */
static int check_cell(Row *r, int f, Span c) {
    Val *v = &r->v[f];
    const Spec *sp = &SPECS[f];
    v->t = V_STR; v->s = c;
    switch (sp->kind) {
    case K_CODE: return in_class(c, sp->cls);
    case K_TEXT: return check_account_text(c);
    case K_NAME: return check_name(c);
    case K_ENUM: return check_enum(c, sp->choices);
    case K_DATE: return check_date(c);
    case K_MONTH: return check_month(c);
    case K_DECIMAL: {
        Py_ssize_t n;
        if (!check_decimal(c, r->dec[f], &n, &v->i)) return 0;
        v->s.p = r->dec[f]; v->s.n = n;
        return 1;
    }
    case K_INT: v->t = V_INT; return check_int(c, &v->i);
    case K_USCC: return check_uscc(c);
    case K_ID_NUMBER: return check_id_number(c);
    case K_MOBILE: return is_mobile(c.p, c.n);
    case K_CURRENCY: return 1;   /* checked against the plan's list by the caller */
    case K_FUNDERS: v->t = V_FUNDERS; return funders_ok(c, &r->funders);
    case K_ID_LIST: v->t = V_LIST; return id_list_ok(c);
    }
    return 0;
}

static int region_known(Plan *pl, uint64_t key) {
    uint64_t k = key + 1, h = (key * 0x9E3779B97F4A7C15ULL) >> 48;
    for (int i = 0; i < REGION_CACHE; i++) {
        uint64_t slot = pl->regions[(h + i) & (REGION_CACHE - 1)];
        if (slot == k) return 1;
        if (slot == 0) return 0;
    }
    return 0;
}
static void region_add(Plan *pl, uint64_t key) {
    if (pl->nregions >= REGION_CACHE / 2) return;
    uint64_t k = key + 1, h = (key * 0x9E3779B97F4A7C15ULL) >> 48;
    for (int i = 0; i < REGION_CACHE; i++) {
        uint64_t *slot = &pl->regions[(h + i) & (REGION_CACHE - 1)];
        if (*slot == 0) { *slot = k; pl->nregions++; return; }
        if (*slot == k) return;
    }
}

/*
 * resident_id_facts(number) is (None, born) and born <= report_date. The region
 * code needs python-stdnum's table: a (region, birth year) pair not yet known
 * valid is left in *pending for the caller to settle with Python afterwards.
 */
static int resident_id_ok(Plan *pl, Span num, Span reported, uint64_t *pending) {
    const char *p = num.p;
    if (num.n != 18 || !all_digits(p, 17) || !(is_digit(p[17]) || p[17] == 'X')) return 0;
    if (gb11643_check(p) != p[17]) return 0;
    char born[10] = {p[6], p[7], p[8], p[9], '-', p[10], p[11], '-', p[12], p[13]};
    if (!calendar_date(born) || memcmp(born, pl->today, 10) > 0) return 0;
    if (memcmp(born, reported.p, 10) > 0) return 0;
    uint64_t key = 0;
    for (int i = 0; i < 10; i++) key = key * 10 + (p[i] - '0');   /* region code and year */
    if (!region_known(pl, key)) *pending = key + 1;
    return 1;
}

#define V(f) (r->v[f])
#define HAS(f) (r->v[f].t != V_ABSENT)

static int cmp10(Span a, const char *b) { return memcmp(a.p, b, 10); }

/* check_rules with nothing failed: 1 when no rule is broken (the region maybe pending). */
static int rules_ok(Plan *pl, Row *r, uint64_t *pending) {
    Span period = V(F_PERIOD).s, reported = V(F_REPORT_DATE).s, opened = V(F_OPEN_DATE).s;
    char first[10];
    memcpy(first, period.p, 7); memcpy(first + 7, "-01", 3);
    if (cmp10(reported, first) < 0) return 0;
    if (cmp10(opened, reported.p) > 0) return 0;
    if (HAS(F_DUE_DATE) && cmp10(V(F_DUE_DATE).s, opened.p) < 0) return 0;
    if (HAS(F_LAST_PAYMENT_DATE)) {
        Span paid = V(F_LAST_PAYMENT_DATE).s;
        if (cmp10(paid, opened.p) < 0 || cmp10(paid, reported.p) > 0) return 0;
    }
    Span at = V(F_ACCOUNT_TYPE).s;
    if (span_is(at, "D1") && !HAS(F_DUE_DATE)) return 0;
    if ((span_is(at, "R1") || span_is(at, "R2") || span_is(at, "R4")) && !HAS(F_CREDIT_LIMIT)) return 0;
    if (span_is(V(F_SUBJECT_ID_TYPE).s, "10") && !resident_id_ok(pl, V(F_SUBJECT_ID_NUMBER).s, reported, pending))
        return 0;
    int64_t balance = V(F_BALANCE).i, overdue = V(F_OVERDUE_AMOUNT).i, days = V(F_DAYS_PAST_DUE).i;
    if (span_is(at, "D1") && balance > V(F_PRINCIPAL).i) return 0;
    if (V(F_INSTALMENTS_REMAINING).i > V(F_INSTALMENTS_TOTAL).i) return 0;
    if (span_is(V(F_ACCOUNT_STATUS).s, "3") && (balance != 0 || overdue != 0)) return 0;
    int is_overdue = overdue != 0;
    if (is_overdue && days == 0) return 0;
    if (!is_overdue && days > 0) return 0;
    if (V(F_OVERDUE_INSTALMENTS).i != 0 && !is_overdue) return 0;
    int64_t buckets = 0;
    for (int f = F_OP_31_60; f <= F_OP_180_PLUS; f++) if (HAS(f)) buckets += V(f).i;
    return buckets <= overdue;
}

/* ---------------------------------------------------------------- desensitise */

/* Byte offset of code point k (k may equal the count: the end). */
static Py_ssize_t cp_offset(Span s, Py_ssize_t k) {
    Py_ssize_t i = 0;
    for (Py_ssize_t seen = 0; i < s.n; i++) {
        if (((unsigned char)s.p[i] & 0xC0) != 0x80) {
            if (seen == k) return i;
            seen++;
        }
    }
    return s.n;
}

static int put_stars(Buf *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) if (buf_putc(b, '*') < 0) return -1;
    return 0;
}

/* keep visible the first `head` and last `tail` characters, '*' for the rest */
static int mask_keep(Buf *b, Span s, Py_ssize_t len, Py_ssize_t head, Py_ssize_t tail) {
    Py_ssize_t h = cp_offset(s, head), t = cp_offset(s, len - tail);
    if (buf_put(b, s.p, h) < 0 || put_stars(b, len - head - tail) < 0) return -1;
    return buf_put(b, s.p + t, s.n - t);
}

static int apply_mask(Buf *b, int style, Span s) {
    Py_ssize_t len = code_points(s);
    if (style == M_MOBILE && len == 11) return mask_keep(b, s, len, 3, 4);
    if (style == M_CARD && len >= 13) return mask_keep(b, s, len, 6, 4);
    if (style == M_NAME) return len > 1 ? mask_keep(b, s, len, 1, 0) : put_stars(b, len);
    return len > 2 ? mask_keep(b, s, len, 1, 1) : put_stars(b, len);
}

static const char *age_band(int age) {
    static const char *bands[] = {"0-9", "10-19", "20-29", "30-39", "40-49", "50-59",
                                  "60-69", "70-79", "80+"};
    if (age < 0) age = 0;
    if (age > 80) age = 80;
    return bands[age / 10];
}

static void pseudonym(Slot *sl, Row *r, char *out) {
    SHA256_CTX c = sl->inner;
    unsigned char digest[32];
    if (sl->context >= 0) {
        Span ctx = V(sl->context).s;
        SHA256_Update(&c, ctx.p, ctx.n);
        SHA256_Update(&c, ":", 1);
    }
    Span v = V(sl->field).s;
    SHA256_Update(&c, v.p, v.n);
    SHA256_Final(digest, &c);
    c = sl->outer;
    SHA256_Update(&c, digest, 32);
    SHA256_Final(digest, &c);
    out[0] = '0'; out[1] = 'x';
    hex_into(out + 2, digest, 32);
}

/* The output values, slot by slot (V_ABSENT where the policy writes nothing). */
static int desensitise(Plan *pl, Row *r, const unsigned char *salt) {
    r->masks.len = 0;
    Py_ssize_t mask_at[64];
    for (int k = 0; k < pl->nslots; k++) {
        Slot *sl = &pl->slots[k];
        Val *o = &r->out[k];
        char *buf = r->scratch[k];
        o->t = V_ABSENT;
        mask_at[k] = -1;
        Val *src = sl->field >= 0 ? &V(sl->field) : NULL;
        switch (sl->kind) {
        case O_KEEP:
            *o = *src;
            break;
        case O_MASK:
            if (src->t == V_STR) {
                mask_at[k] = r->masks.len;
                if (apply_mask(&r->masks, sl->style, src->s) < 0) return -1;
                o->t = V_STR; o->s.n = r->masks.len - mask_at[k];
            }
            break;
        case O_HMAC:
            if (src->t != V_ABSENT) {
                pseudonym(sl, r, buf);
                o->t = V_STR; o->s.p = buf; o->s.n = 66;
            }
            break;
        case O_AGE_BAND:
        case O_PROVINCE:
            if (src->t == V_STR && span_is(V(F_SUBJECT_ID_TYPE).s, "10")) {
                const char *num = src->s.p, *rep = V(F_REPORT_DATE).s.p;
                if (sl->kind == O_PROVINCE) {
                    memcpy(buf, num, 2);
                    o->s.n = 2;
                } else {
                    int year = atoi((char[5]){rep[0], rep[1], rep[2], rep[3], 0});
                    int born = atoi((char[5]){num[6], num[7], num[8], num[9], 0});
                    char md[4] = {rep[5], rep[6], rep[8], rep[9]};
                    int age = year - born - (memcmp(md, num + 10, 4) < 0);
                    const char *band = age_band(age);
                    o->s.n = (Py_ssize_t)strlen(band);
                    memcpy(buf, band, o->s.n);
                }
                o->t = V_STR; o->s.p = buf;
            }
            break;
        case O_MONTH:
            if (src->t == V_STR) { *o = *src; o->s.n = src->s.n < 7 ? src->s.n : 7; }
            break;
        case O_KEY_IDS:
            o->t = V_RAW; o->s.p = pl->key_ids_json; o->s.n = pl->key_ids_len;
            break;
        case O_SALT:
            buf[0] = '0'; buf[1] = 'x';
            hex_into(buf + 2, salt, 32);
            o->t = V_STR; o->s.p = buf; o->s.n = 66;
            break;
        }
    }
    for (int k = 0; k < pl->nslots; k++)   /* the mask buffer may have moved while growing */
        if (mask_at[k] >= 0) r->out[k].s.p = r->masks.p + mask_at[k];
    return 0;
}

/* ---------------------------------------------------------------- leak guard */

/* classify() of a stand-alone digit run (digits, then maybe one X/x): 1 for a leak. */
static int personal_number(const char *p, Py_ssize_t n) {
    int x = p[n - 1] == 'X' || p[n - 1] == 'x';
    if (!x && (is_mobile(p, n) || (n == 13 && p[0] == '8' && p[1] == '6' && is_mobile(p + 2, 11))))
        return 1;
    if (n == 18 && p[0] >= '1' && p[0] <= '8') {
        char y[5] = {p[6], p[7], p[8], p[9], 0};
        int year = atoi(y);
        char born[10] = {p[6], p[7], p[8], p[9], '-', p[10], p[11], '-', p[12], p[13]};
        char check = x ? 'X' : p[17];
        if (year >= 1900 && year <= 2099 && calendar_date(born) && gb11643_check(p) == check)
            return 1;
    }
    return !x && n >= 15 && n <= 19 && p[0] >= '3' && p[0] <= '6' && luhn_valid(p, n);
}

/* The guard's digit-run scan of one text: boundaries are anything but ASCII letters/digits. */
static int text_leaks(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        if (!is_digit(p[i])) { i++; continue; }
        Py_ssize_t s = i;
        while (i < n && is_digit(p[i])) i++;
        if (i - s < 11 || (s > 0 && is_alnum(p[s - 1]))) continue;
        Py_ssize_t e = i;
        if (e < n && (p[e] == 'X' || p[e] == 'x') && (e + 1 >= n || !is_alnum(p[e + 1]))) e++;
        else if (e < n && is_alnum(p[e])) continue;
        if (personal_number(p + s, e - s)) return 1;
    }
    return 0;
}

/* The output's texts NUL-joined, as LeakGuard.check joins them (the salt is added later). */
static int join_texts(Plan *pl, Row *r, Buf *j) {
    char t[24];
    j->len = 0;
    for (int k = 0; k < pl->nslots; k++) {
        Val *o = &r->out[k];
        if (pl->slots[k].kind == O_SALT || o->t == V_ABSENT) continue;
        int rc = 0;
        if (o->t == V_STR) rc = buf_put(j, o->s.p, o->s.n);
        else if (o->t == V_INT) rc = buf_put(j, t, utoa(o->i, t));
        else if (o->t == V_LIST) {   /* the entries, NUL-separated as the guard sees a list */
            Py_ssize_t at = j->len;
            rc = buf_put(j, o->s.p, o->s.n);
            for (Py_ssize_t i = at; rc == 0 && i < j->len; i++) if (j->p[i] == '|') j->p[i] = '\0';
        }
        else if (o->t == V_FUNDERS) {
            for (int i = 0; i < r->funders.n && rc == 0; i++) {
                rc = buf_put(j, r->funders.org[i].p, r->funders.org[i].n);
                if (rc == 0) rc = buf_putc(j, '\0');
                if (rc == 0) rc = buf_put(j, t, utoa(r->funders.share[i], t));
                if (rc == 0) rc = buf_putc(j, '\0');
            }
        } else if (o->t == V_RAW) {
            rc = buf_put(j, pl->key_id_texts, pl->key_id_len);
        }
        if (rc < 0 || buf_putc(j, '\0') < 0) return -1;
    }
    return 0;
}

/* LeakGuard.check: no personal number in a stand-alone digit run, no canary anywhere. */
static int guard_ok(Plan *pl, Row *r, Buf *joined) {  /* -1: out of memory */
    static const int personal[] = {F_SUBJECT_NAME, F_SUBJECT_ID_NUMBER, F_SUBJECT_MOBILE, F_ACCOUNT_ID};
    if (join_texts(pl, r, joined) < 0) return -1;
    if (text_leaks(joined->p, joined->len)) return 0;
    for (int i = 0; i < 4; i++) {
        Val *v = &V(personal[i]);
        if (v->t != V_STR) continue;
        int ascii = 1;
        for (Py_ssize_t j = 0; j < v->s.n; j++) if ((unsigned char)v->s.p[j] >= 0x80) ascii = 0;
        Py_ssize_t len = ascii ? v->s.n : code_points(v->s);
        if (len >= (ascii ? 6 : 2) && memmem(joined->p, joined->len, v->s.p, v->s.n)) return 0;
    }
    return 1;
}

/* ---------------------------------------------------------------- RFC 8785 */

static int put_json_str(Buf *b, const char *p, Py_ssize_t n) {
    if (buf_reserve(b, n * 6 + 2) < 0) return -1;
    char *o = b->p + b->len;
    *o++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') { *o++ = '\\'; *o++ = c; }
        else if (c >= 0x20) *o++ = c;
        else if (c == '\b') { *o++ = '\\'; *o++ = 'b'; }
        else if (c == '\t') { *o++ = '\\'; *o++ = 't'; }
        else if (c == '\n') { *o++ = '\\'; *o++ = 'n'; }
        else if (c == '\f') { *o++ = '\\'; *o++ = 'f'; }
        else if (c == '\r') { *o++ = '\\'; *o++ = 'r'; }
        else { memcpy(o, "\\u00", 4); o[4] = HEX[c >> 4]; o[5] = HEX[c & 15]; o += 6; }
    }
    *o++ = '"';
    b->len = o - b->p;
    return 0;
}

static int put_int(Buf *b, int64_t v) {
    char t[24];
    return buf_put(b, t, utoa(v, t));
}

/* The output record's canonical bytes: keys were sorted when the plan was made. */
static int write_canonical(Plan *pl, Row *r, Buf *b) {
    if (buf_putc(b, '{') < 0) return -1;
    int first = 1;
    for (int k = 0; k < pl->nslots; k++) {
        Val *o = &r->out[k];
        if (o->t == V_ABSENT) continue;
        if (!first && buf_putc(b, ',') < 0) return -1;
        first = 0;
        if (buf_put(b, pl->slots[k].key, pl->slots[k].keylen) < 0) return -1;
        int rc = 0;
        if (o->t == V_STR) rc = put_json_str(b, o->s.p, o->s.n);
        else if (o->t == V_INT) rc = put_int(b, o->i);
        else if (o->t == V_RAW) rc = buf_put(b, o->s.p, o->s.n);
        else if (o->t == V_LIST) {
            const char *p = o->s.p, *end = o->s.p + o->s.n;
            rc = buf_putc(b, '[');
            while (rc == 0) {
                const char *bar = memchr(p, '|', end - p);
                const char *e = bar ? bar : end;
                rc = put_json_str(b, p, e - p);
                if (!bar || rc < 0) break;
                rc = buf_putc(b, ',');
                p = bar + 1;
            }
            if (rc == 0) rc = buf_putc(b, ']');
        } else if (o->t == V_FUNDERS) {
            rc = buf_putc(b, '[');
            for (int i = 0; i < r->funders.n && rc == 0; i++) {
                if (i) rc = buf_putc(b, ',');
                if (rc == 0) rc = buf_put(b, "{\"org_code\":", 12);
                if (rc == 0) rc = put_json_str(b, r->funders.org[i].p, r->funders.org[i].n);
                if (rc == 0) rc = buf_put(b, ",\"share_bp\":", 12);
                if (rc == 0) rc = put_int(b, r->funders.share[i]);
                if (rc == 0) rc = buf_putc(b, '}');
            }
            if (rc == 0) rc = buf_putc(b, ']');
        }
        if (rc < 0) return -1;
    }
    return buf_putc(b, '}');
}

/* ---------------------------------------------------------------- CSV lines */

/*
 * Cells of one line (without its line end), as the csv module's default dialect
 * reads them. Returns the cell count, or -1 when the line needs the csv module
 * (a quote it cannot be sure about, a CR, a NUL). Quoted cells are unescaped
 * into `scratch`, which the caller sized to the line.
 */
static int split_line(const char *s, Py_ssize_t n, Span *cells, int maxcells, Buf *scratch) {
    int count = 0;
    Py_ssize_t i = 0;
    for (;;) {
        Span cell;
        if (i < n && s[i] == '"') {
            char *o = scratch->p + scratch->len, *start = o;
            Py_ssize_t j = i + 1;
            int closed = 0;
            while (j < n) {
                char c = s[j];
                if (c == '"') {
                    if (j + 1 < n && s[j + 1] == '"') { *o++ = '"'; j += 2; continue; }
                    closed = 1; j++;
                    break;
                }
                if (c == '\r' || c == '\0') return -1;
                *o++ = c; j++;
            }
            if (!closed || (j < n && s[j] != ',')) return -1;
            cell.p = start; cell.n = o - start;
            scratch->len += cell.n;
            i = j;
        } else {
            Py_ssize_t j = i;
            while (j < n && s[j] != ',') {
                char c = s[j];
                if (c == '"' || c == '\r' || c == '\0') return -1;
                j++;
            }
            cell.p = s + i; cell.n = j - i;
            i = j;
        }
        if (count < maxcells) cells[count] = cell;
        count++;
        if (i >= n) return count;
        i++;   /* the comma */
        if (i == n) {   /* a trailing comma: one more, empty, cell */
            if (count < maxcells) { cells[count].p = s + n; cells[count].n = 0; }
            return count + 1;
        }
    }
}

/* ---------------------------------------------------------------- one row */

enum Verdict { ROW_ACCEPTED, ROW_SLOW, ROW_NOMEM };

static enum Verdict fast_row(Plan *pl, Row *r, Span *cells, const unsigned char *salt, Buf *canon,
                             uint64_t *pending) {
    for (int f = 0; f < NF; f++) r->v[f].t = V_ABSENT;
    for (int c = 0; c < pl->ncols; c++) {
        Span cell = cells[c];
        int f = pl->col_field[c];
        if (cell.n == 0) {
            if (f >= 0 && SPECS[f].required) return ROW_SLOW;
            continue;
        }
        if (f < 0 || !check_cell(r, f, cell)) return ROW_SLOW;
        if (SPECS[f].kind == K_CURRENCY && !currency_known(pl, cell)) return ROW_SLOW;
    }
    if (!HAS(F_CURRENCY)) { V(F_CURRENCY).t = V_STR; V(F_CURRENCY).s.p = "CNY"; V(F_CURRENCY).s.n = 3; }
    if (!rules_ok(pl, r, pending)) return ROW_SLOW;
    if (desensitise(pl, r, salt) < 0) return ROW_NOMEM;
    int ok = guard_ok(pl, r, &r->joined);
    if (ok <= 0) return ok < 0 ? ROW_NOMEM : ROW_SLOW;
    return write_canonical(pl, r, canon) < 0 ? ROW_NOMEM : ROW_ACCEPTED;
}

/* ---------------------------------------------------------------- Plan.process */

/* What the GIL-free pass learnt about one row. */
typedef struct {
    int64_t row;
    Py_ssize_t line, line_len;      /* the line with its line end, in the text */
    Py_ssize_t canon, canon_len;    /* accepted: its bytes in the pass's blob */
    Py_ssize_t rid, rid_len;        /* accepted: its record id in the pass's id buffer */
    uint64_t region;                /* accepted if this (region code, year) + 1 is valid */
    char number[18];                /* that row's ID number, for the check */
    unsigned char hash[32];
    int accepted;
} Entry;

typedef struct {
    Buf entries, blob, ids, scratch;
    Py_ssize_t stop;                /* where the pass stopped (the rest needs the csv module) */
    int64_t rows;
    int nomem;
} Pass;

static void leaf_hash(const char *p, Py_ssize_t n, unsigned char *out) {
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, "\0", 1);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

static void seeded_salt(const unsigned char *seed, int64_t row, unsigned char *out) {
    unsigned char be[8];
    for (int i = 0; i < 8; i++) be[i] = (unsigned char)(row >> (56 - 8 * i));
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, seed, 32);
    SHA256_Update(&c, be, 8);
    SHA256_Final(out, &c);
}

static int record_id_text(Plan *pl, Row *r, Buf *ids, Entry *e) {
    Val *id = &r->out[pl->record_id_slot];
    e->rid = ids->len;
    if (id->t == V_INT) {
        char t[24];
        if (buf_put(ids, t, utoa(id->i, t)) < 0) return -1;
    } else if (buf_put(ids, id->s.p, id->s.n) < 0) {
        return -1;
    }
    e->rid_len = ids->len - e->rid;
    return 0;
}

/*
 * The rows of text[0:n], without Python: every row gets an Entry. Rows the
 * pass cannot accept by itself are left for the Python reference path.
 * Needs no GIL: it touches no Python object (the plan is read-only here).
 */
static void run_pass(Plan *pl, Row *r, Span *cells, const char *s, Py_ssize_t n,
                     const unsigned char *salts, Py_ssize_t nsalts, const unsigned char *seed, Pass *ps) {
    Py_ssize_t pos = 0, used = 0;
    ps->stop = -1;
    while (pos < n) {
        const char *nl = memchr(s + pos, '\n', n - pos);
        Py_ssize_t end = nl ? nl - s : n, next = nl ? end + 1 : n, stop = end;
        if (stop > pos && s[stop - 1] == '\r') stop--;
        Py_ssize_t len = stop - pos;
        if (len == 0) { pos = next; continue; }   /* a blank line is not a row */
        ps->scratch.len = 0;
        if (buf_reserve(&ps->scratch, len) < 0) { ps->nomem = 1; return; }
        int count = split_line(s + pos, len, cells, pl->ncols, &ps->scratch);
        if (count < 0) { ps->stop = pos; return; }
        if (buf_reserve(&ps->entries, sizeof(Entry)) < 0) { ps->nomem = 1; return; }
        Entry *e = (Entry *)(ps->entries.p + ps->entries.len);
        memset(e, 0, sizeof *e);
        e->row = ++ps->rows;
        e->line = pos; e->line_len = next - pos;
        e->canon = ps->blob.len;
        if (count == pl->ncols) {
            unsigned char salt[32];
            if (seed) seeded_salt(seed, e->row, salt);
            else if (used < nsalts) memcpy(salt, salts + 32 * used, 32);
            else { ps->stop = e->line; ps->rows--; return; }   /* out of salts: Python goes on */
            enum Verdict v = fast_row(pl, r, cells, salt, &ps->blob, &e->region);
            if (v == ROW_NOMEM) { ps->nomem = 1; return; }
            if (v == ROW_ACCEPTED) {
                used++;
                e->accepted = 1;
                e->canon_len = ps->blob.len - e->canon;
                if (e->region) memcpy(e->number, V(F_SUBJECT_ID_NUMBER).s.p, 18);
                leaf_hash(ps->blob.p + e->canon, e->canon_len, e->hash);
                if (record_id_text(pl, r, &ps->ids, e) < 0) { ps->nomem = 1; return; }
            } else {
                ps->blob.len = e->canon;
            }
        }
        ps->entries.len += sizeof(Entry);
        pos = next;
    }
}

typedef struct {
    Buf rows, hashes, blob, lengths;
    PyObject *ids, *refused;
} Out;

static int add_accepted(Out *o, int64_t row, PyObject *record_id, const unsigned char *hash,
                        const char *canon, Py_ssize_t n) {
    int64_t len = n;
    if (buf_put(&o->rows, &row, 8) < 0 || buf_put(&o->hashes, hash, 32) < 0 ||
        buf_put(&o->lengths, &len, 8) < 0 || buf_put(&o->blob, canon, n) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return PyList_Append(o->ids, record_id);
}

/* The slow callback's answer: (record_id, leaf_hash, canonical) or [(field, reason), ...]. */
static int add_slow(Out *o, int64_t row, PyObject *answer) {
    if (PyTuple_Check(answer) && PyTuple_GET_SIZE(answer) == 3) {
        PyObject *id = PyTuple_GET_ITEM(answer, 0), *h = PyTuple_GET_ITEM(answer, 1),
                 *c = PyTuple_GET_ITEM(answer, 2);
        if (!PyBytes_Check(h) || PyBytes_GET_SIZE(h) != 32 || !PyBytes_Check(c)) {
            PyErr_SetString(PyExc_TypeError, "slow path: bad accepted result");
            return -1;
        }
        return add_accepted(o, row, id, (const unsigned char *)PyBytes_AS_STRING(h),
                            PyBytes_AS_STRING(c), PyBytes_GET_SIZE(c));
    }
    if (!PyList_Check(answer)) {
        PyErr_SetString(PyExc_TypeError, "slow path: expected a tuple or a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(answer); i++) {
        PyObject *p = PyList_GET_ITEM(answer, i);
        if (!PyTuple_Check(p) || PyTuple_GET_SIZE(p) != 2) {
            PyErr_SetString(PyExc_TypeError, "slow path: a problem is (field, reason)");
            return -1;
        }
        PyObject *t = Py_BuildValue("(LOO)", (long long)row, PyTuple_GET_ITEM(p, 0), PyTuple_GET_ITEM(p, 1));
        if (!t || PyList_Append(o->refused, t) < 0) { Py_XDECREF(t); return -1; }
        Py_DECREF(t);
    }
    return 0;
}

/* Settle a pending (region code, year): python-stdnum, through resident_id_facts. */
static int region_valid(Plan *pl, const char *number, uint64_t pending) {
    if (region_known(pl, pending - 1)) return 1;
    PyObject *text = PyUnicode_DecodeUTF8(number, 18, "strict");
    if (!text) return -1;
    PyObject *facts = PyObject_CallOneArg(pl->facts, text);
    Py_DECREF(text);
    if (!facts) return -1;
    int ok = PyTuple_Check(facts) && PyTuple_GET_SIZE(facts) == 2 && PyTuple_GET_ITEM(facts, 0) == Py_None;
    Py_DECREF(facts);
    if (ok) region_add(pl, pending - 1);
    return ok;
}

/* In row order: accepted rows as they are, the others through `slow`. */
static int collect(Plan *pl, const char *s, Pass *ps, PyObject *slow, Out *o) {
    Py_ssize_t count = ps->entries.len / (Py_ssize_t)sizeof(Entry);
    for (Py_ssize_t i = 0; i < count; i++) {
        Entry *e = (Entry *)ps->entries.p + i;
        int accepted = e->accepted;
        if (accepted && e->region) {
            accepted = region_valid(pl, e->number, e->region);
            if (accepted < 0) return -1;
        }
        if (accepted) {
            PyObject *rid = PyUnicode_DecodeUTF8(ps->ids.p + e->rid, e->rid_len, "strict");
            if (!rid) return -1;
            int rc = add_accepted(o, e->row, rid, e->hash, ps->blob.p + e->canon, e->canon_len);
            Py_DECREF(rid);
            if (rc < 0) return -1;
            continue;
        }
        PyObject *line = PyUnicode_DecodeUTF8(s + e->line, e->line_len, "strict");
        if (!line) return -1;
        PyObject *answer = PyObject_CallFunction(slow, "LO", (long long)e->row, line);
        Py_DECREF(line);
        if (!answer) return -1;
        int rc = add_slow(o, e->row, answer);
        Py_DECREF(answer);
        if (rc < 0) return -1;
    }
    return 0;
}

static PyObject *bytes_of(Buf *b) { return PyBytes_FromStringAndSize(b->p ? b->p : "", b->len); }

static PyObject *Plan_process(Plan *pl, PyObject *args, PyObject *kw) {
    static char *names[] = {"text", "slow", "salts", "seed", NULL};
    PyObject *text, *slow;
    Py_buffer salts = {0}, seed = {0};
    if (!PyArg_ParseTupleAndKeywords(args, kw, "UO|y*y*", names, &text, &slow, &salts, &seed))
        return NULL;
    PyObject *result = NULL;
    Out o = {{0}};
    Pass ps = {{0}};
    Row *r = PyMem_RawCalloc(1, sizeof(Row));
    Span *cells = PyMem_RawCalloc(pl->ncols + 1, sizeof(Span));
    o.ids = PyList_New(0);
    o.refused = PyList_New(0);
    if (!r || !cells || !o.ids || !o.refused) { PyErr_NoMemory(); goto done; }
    if (seed.buf && seed.len != 32) { PyErr_SetString(PyExc_ValueError, "seed must be 32 bytes"); goto done; }
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (!s) goto done;   /* lone surrogates: not UTF-8; the caller falls back */
    Py_INCREF(text);     /* keeps s alive while the GIL is released */
    Py_BEGIN_ALLOW_THREADS
    run_pass(pl, r, cells, s, n, salts.buf, salts.len / 32, seed.buf, &ps);
    Py_END_ALLOW_THREADS
    if (ps.nomem) { Py_DECREF(text); PyErr_NoMemory(); goto done; }
    if (collect(pl, s, &ps, slow, &o) < 0) { Py_DECREF(text); goto done; }
    PyObject *rest = ps.stop >= 0 ? PyUnicode_DecodeUTF8(s + ps.stop, n - ps.stop, "strict") : Py_NewRef(Py_None);
    Py_DECREF(text);
    if (!rest) goto done;
    Py_ssize_t native = 0, count = ps.entries.len / (Py_ssize_t)sizeof(Entry);
    for (Py_ssize_t i = 0; i < count; i++) native += ((Entry *)ps.entries.p)[i].accepted;
    PyObject *rows = bytes_of(&o.rows), *hashes = bytes_of(&o.hashes), *blob = bytes_of(&o.blob),
             *lengths = bytes_of(&o.lengths);
    if (rows && hashes && blob && lengths)
        result = Py_BuildValue("(OOOOOOLnO)", rows, o.ids, hashes, blob, lengths, o.refused,
                               (long long)ps.rows, native, rest);
    Py_DECREF(rest);
    Py_XDECREF(rows); Py_XDECREF(hashes); Py_XDECREF(blob); Py_XDECREF(lengths);
done:
    if (r) { buf_free(&r->masks); buf_free(&r->joined); }
    PyMem_RawFree(r);
    PyMem_RawFree(cells);
    buf_free(&ps.entries); buf_free(&ps.blob); buf_free(&ps.ids); buf_free(&ps.scratch);
    buf_free(&o.rows); buf_free(&o.hashes); buf_free(&o.blob); buf_free(&o.lengths);
    Py_XDECREF(o.ids);
    Py_XDECREF(o.refused);
    if (salts.buf) PyBuffer_Release(&salts);
    if (seed.buf) PyBuffer_Release(&seed);
    return result;
}

/* ---------------------------------------------------------------- Plan() */

static int field_index(PyObject *name) {
    if (name == Py_None) return -1;
    const char *s = PyUnicode_AsUTF8(name);
    if (!s) return -2;
    for (int f = 0; f < NF; f++) if (strcmp(SPECS[f].name, s) == 0) return f;
    return -1;
}

static int op_kind(const char *s, enum OpKind *k) {
    static const char *names[] = {"keep", "mask", "hmac", "age_band", "province", "month", "key_ids", "salt"};
    for (int i = 0; i < 8; i++) if (strcmp(names[i], s) == 0) { *k = (enum OpKind)i; return 0; }
    return -1;
}

static int mask_style(const char *s) {
    static const char *names[] = {"name", "id", "mobile", "card"};
    for (int i = 0; i < 4; i++) if (strcmp(names[i], s) == 0) return i;
    return -1;
}

static void hmac_pads(Slot *sl, const unsigned char *key, Py_ssize_t keylen, const char *label, Py_ssize_t n) {
    unsigned char k[64] = {0}, pad[64];
    if (keylen > 64) SHA256(key, keylen, k); else memcpy(k, key, keylen);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x36;
    SHA256_Init(&sl->inner); SHA256_Update(&sl->inner, pad, 64);
    SHA256_Update(&sl->inner, label, n);
    for (int i = 0; i < 64; i++) pad[i] = k[i] ^ 0x5c;
    SHA256_Init(&sl->outer); SHA256_Update(&sl->outer, pad, 64);
}

static int bad(const char *msg) { PyErr_SetString(PyExc_ValueError, msg); return -1; }

/* One slot from (output, kind, field, style, secret, label, context). */
static int parse_slot(Slot *sl, PyObject *spec) {
    const char *out, *kind, *style;
    PyObject *field, *ctx;
    Py_buffer secret = {0}, label = {0};
    if (!PyArg_ParseTuple(spec, "ssOzz*z*O", &out, &kind, &field, &style, &secret, &label, &ctx)) return -1;
    int rc = -1;
    Py_ssize_t n = (Py_ssize_t)strlen(out);
    sl->key = PyMem_Malloc(n + 3);
    if (!sl->key) { PyErr_NoMemory(); goto end; }
    sl->key[0] = '"'; memcpy(sl->key + 1, out, n); sl->key[n + 1] = '"'; sl->key[n + 2] = ':';
    sl->keylen = n + 3;
    if (op_kind(kind, &sl->kind) < 0) { bad("unknown output kind"); goto end; }
    sl->field = field_index(field);
    sl->context = field_index(ctx);
    if (sl->field == -2 || sl->context == -2) goto end;
    int needs_field = sl->kind != O_KEY_IDS && sl->kind != O_SALT;
    if (needs_field && sl->field < 0) { bad("output from an unknown field"); goto end; }
    sl->style = -1;
    if (sl->kind == O_MASK && (!style || (sl->style = mask_style(style)) < 0)) { bad("unknown mask style"); goto end; }
    if (sl->kind == O_HMAC) {
        if (!secret.buf || !label.buf) { bad("hmac needs a secret and a label"); goto end; }
        hmac_pads(sl, secret.buf, secret.len, label.buf, label.len);
    }
    rc = 0;
end:
    if (secret.buf) PyBuffer_Release(&secret);
    if (label.buf) PyBuffer_Release(&label);
    return rc;
}

static int Plan_init(Plan *pl, PyObject *args, PyObject *kw) {
    static char *names[] = {"header", "slots", "key_ids_json", "key_id_texts", "currencies", "today", "facts", NULL};
    PyObject *header, *slots, *key_id_texts, *currencies, *facts;
    const char *key_ids_json = NULL, *today;
    Py_ssize_t key_ids_len = 0;
    if (!PyArg_ParseTupleAndKeywords(args, kw, "O!O!z#O!O!sO", names, &PyTuple_Type, &header,
                                     &PyTuple_Type, &slots, &key_ids_json, &key_ids_len,
                                     &PyTuple_Type, &key_id_texts, &PyTuple_Type, &currencies,
                                     &today, &facts))
        return -1;
    if (strlen(today) != 10) return bad("today must be YYYY-MM-DD");
    memcpy(pl->today, today, 11);
    pl->ncols = (int)PyTuple_GET_SIZE(header);
    pl->col_field = PyMem_Calloc(pl->ncols + 1, sizeof(int));
    if (!pl->col_field) { PyErr_NoMemory(); return -1; }
    for (int f = 0; f < NF; f++) pl->field_col[f] = -1;
    for (int c = 0; c < pl->ncols; c++) {
        int f = field_index(PyTuple_GET_ITEM(header, c));
        if (f == -2) return -1;
        if (f >= 0 && pl->field_col[f] >= 0) return bad("a column is named twice");
        pl->col_field[c] = f;
        if (f >= 0) pl->field_col[f] = c;
    }
    for (int f = 0; f < NF; f++)
        if (SPECS[f].required && pl->field_col[f] < 0) return bad("a required column is missing");
    pl->nslots = (int)PyTuple_GET_SIZE(slots);
    if (pl->nslots > 64) return bad("too many outputs");
    pl->slots = PyMem_Calloc(pl->nslots + 1, sizeof(Slot));
    if (!pl->slots) { PyErr_NoMemory(); return -1; }
    pl->record_id_slot = -1;
    for (int k = 0; k < pl->nslots; k++) {
        if (parse_slot(&pl->slots[k], PyTuple_GET_ITEM(slots, k)) < 0) return -1;
        if (pl->slots[k].keylen == 12 && memcmp(pl->slots[k].key, "\"record_id\":", 12) == 0)
            pl->record_id_slot = k;
    }
    if (pl->record_id_slot < 0) return bad("no record_id output");
    if (key_ids_json) {
        pl->key_ids_json = PyMem_Malloc(key_ids_len + 1);
        if (!pl->key_ids_json) { PyErr_NoMemory(); return -1; }
        memcpy(pl->key_ids_json, key_ids_json, key_ids_len);
        pl->key_ids_len = key_ids_len;
    }
    Buf kt = {0};
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key_id_texts); i++) {
        Py_ssize_t tn;
        const char *t = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(key_id_texts, i), &tn);
        if (!t) { buf_free(&kt); return -1; }
        if (buf_put(&kt, t, tn) < 0 || buf_putc(&kt, '\0') < 0) { buf_free(&kt); PyErr_NoMemory(); return -1; }
    }
    pl->key_id_texts = kt.p;
    pl->key_id_len = kt.len;
    pl->ncurrencies = (int)PyTuple_GET_SIZE(currencies);
    pl->currencies = PyMem_Calloc(pl->ncurrencies + 1, 4);
    if (!pl->currencies) { PyErr_NoMemory(); return -1; }
    for (int i = 0; i < pl->ncurrencies; i++) {
        Py_ssize_t cn;
        const char *c = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(currencies, i), &cn);
        if (!c) return -1;
        if (cn != 3) return bad("currency codes have 3 letters");
        if (i && memcmp(pl->currencies[i - 1], c, 3) >= 0) return bad("currencies must be sorted");
        memcpy(pl->currencies[i], c, 3);
    }
    Py_INCREF(facts);
    pl->facts = facts;
    pl->regions = PyMem_Calloc(REGION_CACHE, sizeof(uint64_t));
    if (!pl->regions) { PyErr_NoMemory(); return -1; }
    return 0;
}

static void Plan_dealloc(Plan *pl) {
    for (int k = 0; pl->slots && k < pl->nslots; k++) PyMem_Free(pl->slots[k].key);
    PyMem_Free(pl->slots);
    PyMem_Free(pl->col_field);
    PyMem_Free(pl->key_ids_json);
    PyMem_Free(pl->currencies);
    PyMem_Free(pl->regions);
    PyMem_RawFree(pl->key_id_texts);
    Py_XDECREF(pl->facts);
    Py_TYPE(pl)->tp_free((PyObject *)pl);
}

static PyMethodDef Plan_methods[] = {
    {"process", (PyCFunction)(void (*)(void))Plan_process, METH_VARARGS | METH_KEYWORDS,
     "process(text, slow, salts=None, seed=None) -> (rows, record_ids, hashes, blob, lengths, "
     "refused, last_row, native, rest)"},
    {NULL}
};

static PyTypeObject PlanType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ledger._speedups.Plan",
    .tp_basicsize = sizeof(Plan),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A header and a policy compiled for the CSV fast path.",
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Plan_init,
    .tp_dealloc = (destructor)Plan_dealloc,
    .tp_methods = Plan_methods,
};

/* ---------------------------------------------------------------- helpers */

/* merkle_root(hashes) -> 32 bytes: RFC 6962 MTH of the 32-byte leaf hashes, level by level
 * (a node without a partner moves up unchanged, which is RFC 6962's split at powers of 2). */
static PyObject *merkle_root(PyObject *self, PyObject *arg) {
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    if (in.len == 0 || in.len % 32) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "leaf hashes: a non-empty multiple of 32 bytes");
        return NULL;
    }
    Py_ssize_t n = in.len / 32;
    unsigned char *level = PyMem_RawMalloc(in.len);
    if (!level) { PyBuffer_Release(&in); return PyErr_NoMemory(); }
    memcpy(level, in.buf, in.len);
    PyBuffer_Release(&in);
    Py_BEGIN_ALLOW_THREADS
    while (n > 1) {
        Py_ssize_t up = 0;
        for (Py_ssize_t i = 0; i + 1 < n; i += 2, up++) {
            SHA256_CTX c;
            SHA256_Init(&c);
            SHA256_Update(&c, "\x01", 1);
            SHA256_Update(&c, level + 32 * i, 64);
            SHA256_Final(level + 32 * up, &c);
        }
        if (n % 2) { memmove(level + 32 * up, level + 32 * (n - 1), 32); up++; }
        n = up;
    }
    Py_END_ALLOW_THREADS
    PyObject *root = PyBytes_FromStringAndSize((char *)level, 32);
    PyMem_RawFree(level);
    return root;
}

/* record_keys(ids) -> [int]: the signed big-endian first 8 bytes of SHA-256(UTF-8 id). */
static PyObject *record_keys(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "record ids: a sequence of str");
    if (!seq) return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    for (Py_ssize_t i = 0; out && i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        Py_ssize_t len;
        const char *text = PyUnicode_Check(item) ? PyUnicode_AsUTF8AndSize(item, &len) : NULL;
        if (!text) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "record ids must be str");
            Py_CLEAR(out);
            break;
        }
        unsigned char d[32];
        SHA256_CTX c;   /* the low-level API: SHA256() fetches the algorithm on every call */
        SHA256_Init(&c);
        SHA256_Update(&c, text, len);
        SHA256_Final(d, &c);
        uint64_t u = 0;
        for (int b = 0; b < 8; b++) u = (u << 8) | d[b];
        PyObject *key = PyLong_FromLongLong((long long)(int64_t)u);
        if (!key) { Py_CLEAR(out); break; }
        PyList_SET_ITEM(out, i, key);
    }
    Py_DECREF(seq);
    return out;
}

/* json_scan(body) -> (depth, plain). ``depth``: the deepest nesting of brackets outside
 * strings (the running count from 0, as api.limits.json_depth counts it). ``plain``: every
 * number outside strings is an integer of at most 18 digits and every object key is ASCII
 * without escapes: then orjson parses the body to exactly what the json module does, and the
 * key order of its objects is the same by code point and by UTF-16 code unit. Not a
 * validator: what is not JSON is left to the parser. */
static PyObject *json_scan(PyObject *self, PyObject *arg) {
    Py_buffer in;
    if (PyObject_GetBuffer(arg, &in, PyBUF_SIMPLE) < 0) return NULL;
    const unsigned char *b = in.buf;
    Py_ssize_t n = in.len, i = 0;
    long depth = 0, deepest = 0;
    int plain = 1;
    Py_BEGIN_ALLOW_THREADS
    while (i < n) {
        unsigned char c = b[i];
        if (c == '"') {
            int odd = 0;   /* a non-ASCII byte or an escape */
            for (i++; i < n && b[i] != '"'; i++) {
                if (b[i] == '\\') { odd = 1; i++; }
                else if (b[i] >= 0x80) odd = 1;
            }
            i++;
            if (odd && plain) {
                Py_ssize_t j = i;
                while (j < n && (b[j] == ' ' || b[j] == '\t' || b[j] == '\n' || b[j] == '\r')) j++;
                if (j < n && b[j] == ':') plain = 0;
            }
            continue;
        }
        if (c == '[' || c == '{') {
            if (++depth > deepest) deepest = depth;
        } else if (c == ']' || c == '}') {
            depth--;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            Py_ssize_t j = i + (c == '-'), digits = 0;
            while (j < n && b[j] >= '0' && b[j] <= '9') { j++; digits++; }
            if (digits > 18 || (j < n && (b[j] == '.' || b[j] == 'e' || b[j] == 'E'))) plain = 0;
            i = j > i ? j : i + 1;
            continue;
        }
        i++;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    return Py_BuildValue("(lN)", deepest, PyBool_FromLong(plain));
}

/* ---------------------------------------------------------------- verify bodies */

/* jcs_records(body, max_items) -> ([bytes], [hash]) | None: the RFC 8785 bytes of each record of a
 * verify body {"records": [{...}, ...]}, read straight from the JSON text, with no Python
 * objects per value. None means "not on the fast path": the caller parses and validates the
 * body as before, and that path gives every answer and error. It is None unless the body is
 * exactly one member "records" holding 1..max_items objects, in which
 *  - every key is ASCII without escapes (so byte order is RFC 8785's UTF-16 order), and no
 *    object repeats a key;
 *  - every number is an integer of at most 15 digits (exact as a double; "-0" is 0);
 *  - every string is valid UTF-8 without raw control characters, its escapes valid and no
 *    lone surrogates (a string is decoded, then written as RFC 8785 writes it);
 *  - nesting stays within JCS_MAX_DEPTH levels;
 * and the text is JSON (RFC 8259) with nothing after it but whitespace. */
#define JCS_MAX_DEPTH 60

typedef struct { const unsigned char *b; Py_ssize_t n, i; } Src;
typedef struct { const unsigned char *key; Py_ssize_t key_len, val, val_len; } Member;

static inline void skip_ws(Src *s) {
    while (s->i < s->n) {
        unsigned char c = s->b[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        s->i++;
    }
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned char c = p[k];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return 0;
    }
    *out = v;
    return 1;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), 0 if invalid. */
static int utf8_len(const unsigned char *p, Py_ssize_t left) {
    unsigned char c = p[0];
    int n;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;   /* no UTF-16 surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else return 0;
    if (left < n || p[1] < lo || p[1] > hi) return 0;
    for (int k = 2; k < n; k++) if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    return n;
}

/* A string at s->i (the opening quote), decoded to UTF-8 into *tmp (reset first).
 * 1: done; 0: off the fast path; -1: out of memory. */
static int read_string(Src *s, Buf *tmp) {
    tmp->len = 0;
    Py_ssize_t i = s->i + 1;
    const unsigned char *b = s->b;
    for (;;) {
        Py_ssize_t start = i;
        while (i < s->n && b[i] != '"' && b[i] != '\\' && b[i] >= 0x20 && b[i] < 0x80) i++;
        if (i > start && buf_put(tmp, b + start, i - start) < 0) return -1;
        if (i >= s->n) return 0;
        unsigned char c = b[i];
        if (c == '"') { s->i = i + 1; return 1; }
        if (c < 0x20) return 0;
        if (c >= 0x80) {
            int k = utf8_len(b + i, s->n - i);
            if (!k) return 0;
            if (buf_put(tmp, b + i, k) < 0) return -1;
            i += k;
            continue;
        }
        /* an escape */
        if (i + 1 >= s->n) return 0;
        unsigned char e = b[i + 1];
        char one = 0;
        switch (e) {
            case '"': one = '"'; break;
            case '\\': one = '\\'; break;
            case '/': one = '/'; break;
            case 'b': one = '\b'; break;
            case 'f': one = '\f'; break;
            case 'n': one = '\n'; break;
            case 'r': one = '\r'; break;
            case 't': one = '\t'; break;
            case 'u': break;
            default: return 0;
        }
        if (e != 'u') {
            if (buf_putc(tmp, one) < 0) return -1;
            i += 2;
            continue;
        }
        unsigned u;
        if (i + 6 > s->n || !hex4(b + i + 2, &u)) return 0;
        i += 6;
        if (u >= 0xDC00 && u <= 0xDFFF) return 0;            /* a lone low surrogate */
        if (u >= 0xD800 && u <= 0xDBFF) {                     /* needs its low half */
            unsigned low;
            if (i + 6 > s->n || b[i] != '\\' || b[i + 1] != 'u' || !hex4(b + i + 2, &low)
                || low < 0xDC00 || low > 0xDFFF)
                return 0;
            i += 6;
            u = 0x10000 + ((u - 0xD800) << 10) + (low - 0xDC00);
        }
        char o[4];
        int k;
        if (u < 0x80) { o[0] = (char)u; k = 1; }
        else if (u < 0x800) { o[0] = (char)(0xC0 | u >> 6); o[1] = (char)(0x80 | (u & 63)); k = 2; }
        else if (u < 0x10000) {
            o[0] = (char)(0xE0 | u >> 12); o[1] = (char)(0x80 | ((u >> 6) & 63));
            o[2] = (char)(0x80 | (u & 63)); k = 3;
        } else {
            o[0] = (char)(0xF0 | u >> 18); o[1] = (char)(0x80 | ((u >> 12) & 63));
            o[2] = (char)(0x80 | ((u >> 6) & 63)); o[3] = (char)(0x80 | (u & 63)); k = 4;
        }
        if (buf_put(tmp, o, k) < 0) return -1;
    }
}

typedef struct { Buf out, tmp; Member *members; Py_ssize_t nmembers, cap; } Jcs;

static int jcs_value(Src *s, Jcs *j, int depth);

static int member_cmp(const void *pa, const void *pb) {
    const Member *a = pa, *b = pb;
    Py_ssize_t n = a->key_len < b->key_len ? a->key_len : b->key_len;
    int c = memcmp(a->key, b->key, n);
    if (c) return c;
    return (a->key_len > b->key_len) - (a->key_len < b->key_len);
}

/* Members sorted by key (the keys point into the body); 0 if a key repeats. A record's
 * few dozen members, usually in order already, take an insertion sort; a large object
 * takes qsort, so that no body costs quadratic time. */
#define INSERTION_SORT_MAX 32
static int sort_members(Member *m, Py_ssize_t n) {
    if (n > INSERTION_SORT_MAX) {
        qsort(m, n, sizeof(Member), member_cmp);
        for (Py_ssize_t a = 1; a < n; a++)
            if (member_cmp(&m[a - 1], &m[a]) == 0) return 0;   /* a repeated key */
        return 1;
    }
    for (Py_ssize_t a = 1; a < n; a++) {
        Member x = m[a];
        Py_ssize_t b = a;
        while (b > 0) {
            int c = member_cmp(&m[b - 1], &x);
            if (c == 0) return 0;   /* a repeated key */
            if (c < 0) break;
            m[b] = m[b - 1];
            b--;
        }
        m[b] = x;
    }
    return 1;
}

/* An object at s->i ('{'): its members' values are written to j->out in input order,
 * then copied back sorted. 1 / 0 / -1 as read_string. */
static int jcs_object(Src *s, Jcs *j, int depth) {
    s->i++;
    Py_ssize_t base = j->nmembers, start = j->out.len;
    skip_ws(s);
    if (s->i < s->n && s->b[s->i] == '}') {
        s->i++;
        return buf_put(&j->out, "{}", 2) < 0 ? -1 : 1;
    }
    for (;;) {
        skip_ws(s);
        if (s->i >= s->n || s->b[s->i] != '"') return 0;
        Py_ssize_t key = s->i + 1, k = key;
        while (k < s->n && s->b[k] != '"' && s->b[k] != '\\' && s->b[k] >= 0x20 && s->b[k] < 0x80) k++;
        if (k >= s->n || s->b[k] != '"') return 0;   /* escapes or non-ASCII: the slow path */
        s->i = k + 1;
        skip_ws(s);
        if (s->i >= s->n || s->b[s->i] != ':') return 0;
        s->i++;
        skip_ws(s);
        if (j->nmembers == j->cap) {
            Py_ssize_t cap = j->cap ? j->cap * 2 : 256;
            Member *m = PyMem_RawRealloc(j->members, cap * sizeof(Member));
            if (!m) return -1;
            j->members = m;
            j->cap = cap;
        }
        Py_ssize_t val = j->out.len;
        int r = jcs_value(s, j, depth + 1);
        if (r <= 0) return r;
        j->members[j->nmembers++] = (Member){s->b + key, k - key, val, j->out.len - val};
        skip_ws(s);
        if (s->i >= s->n) return 0;
        if (s->b[s->i] == ',') { s->i++; continue; }
        if (s->b[s->i] != '}') return 0;
        s->i++;
        break;
    }
    Member *m = j->members + base;
    Py_ssize_t n = j->nmembers - base, values = j->out.len - start, size = 2 + values;
    if (!sort_members(m, n)) return 0;
    for (Py_ssize_t a = 0; a < n; a++) size += m[a].key_len + 4;   /* "key": and a comma */
    /* The values, as written, move up by ``size`` (at least the object's length); the object
     * is then written from ``start``, never reaching a value it has still to copy. */
    if (buf_reserve(&j->out, size + values) < 0) return -1;
    char *vals = j->out.p + start + size;
    memmove(vals, j->out.p + start, values);
    char *o = j->out.p + start;
    *o++ = '{';
    for (Py_ssize_t a = 0; a < n; a++) {
        if (a) *o++ = ',';
        *o++ = '"';
        memcpy(o, m[a].key, m[a].key_len);
        o += m[a].key_len;
        *o++ = '"';
        *o++ = ':';
        memcpy(o, vals + (m[a].val - start), m[a].val_len);
        o += m[a].val_len;
    }
    *o++ = '}';
    j->out.len = o - j->out.p;
    j->nmembers = base;
    return 1;
}

static int jcs_value(Src *s, Jcs *j, int depth) {
    if (depth > JCS_MAX_DEPTH || s->i >= s->n) return 0;
    unsigned char c = s->b[s->i];
    if (c == '{') return jcs_object(s, j, depth);
    if (c == '[') {
        s->i++;
        if (buf_putc(&j->out, '[') < 0) return -1;
        skip_ws(s);
        if (s->i < s->n && s->b[s->i] == ']') { s->i++; return buf_putc(&j->out, ']') < 0 ? -1 : 1; }
        for (;;) {
            skip_ws(s);
            int r = jcs_value(s, j, depth + 1);
            if (r <= 0) return r;
            skip_ws(s);
            if (s->i >= s->n) return 0;
            if (s->b[s->i] == ']') { s->i++; return buf_putc(&j->out, ']') < 0 ? -1 : 1; }
            if (s->b[s->i] != ',') return 0;
            s->i++;
            if (buf_putc(&j->out, ',') < 0) return -1;
        }
    }
    if (c == '"') {
        /* Without escapes a string's text is already as RFC 8785 writes it: copy it. */
        Py_ssize_t i = s->i + 1;
        while (i < s->n && s->b[i] != '"' && s->b[i] != '\\' && s->b[i] >= 0x20) {
            if (s->b[i] < 0x80) { i++; continue; }
            int k = utf8_len(s->b + i, s->n - i);
            if (!k) return 0;
            i += k;
        }
        if (i < s->n && s->b[i] == '"') {
            Py_ssize_t start = s->i;
            s->i = i + 1;
            return buf_put(&j->out, s->b + start, s->i - start) < 0 ? -1 : 1;
        }
        int r = read_string(s, &j->tmp);
        if (r <= 0) return r;
        return put_json_str(&j->out, j->tmp.p ? j->tmp.p : "", j->tmp.len) < 0 ? -1 : 1;
    }
    if (c == '-' || is_digit(c)) {
        Py_ssize_t start = s->i, i = s->i + (c == '-');
        if (i >= s->n || !is_digit(s->b[i])) return 0;
        Py_ssize_t first = i;
        if (s->b[i] == '0') i++;
        else while (i < s->n && is_digit(s->b[i])) i++;
        if (i - first > 15) return 0;
        if (i < s->n && (s->b[i] == '.' || s->b[i] == 'e' || s->b[i] == 'E' || is_digit(s->b[i])))
            return 0;   /* a fraction, an exponent, or a leading zero */
        s->i = i;
        if (i - first == 1 && s->b[first] == '0') return buf_putc(&j->out, '0') < 0 ? -1 : 1;
        return buf_put(&j->out, s->b + start, i - start) < 0 ? -1 : 1;
    }
    static const char *words[] = {"true", "false", "null"};
    for (int w = 0; w < 3; w++) {
        Py_ssize_t len = (Py_ssize_t)strlen(words[w]);
        if (s->n - s->i >= len && !memcmp(s->b + s->i, words[w], len)) {
            s->i += len;
            return buf_put(&j->out, words[w], len) < 0 ? -1 : 1;
        }
    }
    return 0;
}

static int expect(Src *s, const char *text) {
    skip_ws(s);
    Py_ssize_t len = (Py_ssize_t)strlen(text);
    if (s->n - s->i < len || memcmp(s->b + s->i, text, len)) return 0;
    s->i += len;
    return 1;
}

/* The records one after another in j->out, ends[k] where record k ends. Runs without the GIL.
 * 1 / 0 / -1 as read_string. */
static int jcs_read_all(Src *s, Jcs *j, Py_ssize_t max_items, Py_ssize_t **ends, Py_ssize_t *count) {
    Py_ssize_t cap = 0;
    *count = 0;
    if (!expect(s, "{") || !expect(s, "\"records\"") || !expect(s, ":") || !expect(s, "["))
        return 0;
    for (;;) {
        skip_ws(s);
        if (s->i >= s->n || s->b[s->i] != '{' || *count >= max_items) return 0;
        int r = jcs_object(s, j, 1);
        if (r <= 0) return r;
        if (*count == cap) {
            cap = cap ? cap * 2 : 1024;
            Py_ssize_t *e = PyMem_RawRealloc(*ends, cap * sizeof(Py_ssize_t));
            if (!e) return -1;
            *ends = e;
        }
        (*ends)[(*count)++] = j->out.len;
        skip_ws(s);
        if (s->i < s->n && s->b[s->i] == ',') { s->i++; continue; }
        break;
    }
    if (!expect(s, "]") || !expect(s, "}")) return 0;
    skip_ws(s);
    return s->i == s->n;
}

/* jcs_records(body, max_items) -> (texts, leaf hashes) | None: see the comment above. The
 * reading and the hashing (SHA-256(0x00 || text), RFC 6962) run without the GIL. */
static PyObject *jcs_records(PyObject *self, PyObject *args) {
    Py_buffer in;
    Py_ssize_t max_items;
    if (!PyArg_ParseTuple(args, "y*n", &in, &max_items)) return NULL;
    Src s = {in.buf, in.len, 0};
    Jcs j = {{0}, {0}, NULL, 0, 0};
    Py_ssize_t *ends = NULL, count = 0;
    unsigned char *digests = NULL;
    PyObject *texts = NULL, *hashes = NULL, *answer = NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = jcs_read_all(&s, &j, max_items, &ends, &count);
    if (r == 1 && !(digests = PyMem_RawMalloc(32 * (count ? count : 1)))) r = -1;
    for (Py_ssize_t k = 0; r == 1 && k < count; k++) {
        Py_ssize_t start = k ? ends[k - 1] : 0;
        SHA256_CTX c;
        SHA256_Init(&c);
        SHA256_Update(&c, "\x00", 1);
        SHA256_Update(&c, j.out.p + start, ends[k] - start);
        SHA256_Final(digests + 32 * k, &c);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&in);
    if (r == 1) {
        texts = PyList_New(count);
        hashes = PyList_New(count);
        for (Py_ssize_t k = 0; texts && hashes && k < count; k++) {
            Py_ssize_t start = k ? ends[k - 1] : 0;
            PyObject *text = PyBytes_FromStringAndSize(j.out.p + start, ends[k] - start);
            PyObject *digest = PyBytes_FromStringAndSize((char *)digests + 32 * k, 32);
            if (!text || !digest) { Py_XDECREF(text); Py_XDECREF(digest); Py_CLEAR(texts); break; }
            PyList_SET_ITEM(texts, k, text);
            PyList_SET_ITEM(hashes, k, digest);
        }
        if (texts && hashes) answer = PyTuple_Pack(2, texts, hashes);
        Py_XDECREF(texts);
        Py_XDECREF(hashes);
        if (!answer && !PyErr_Occurred()) PyErr_NoMemory();
    }
    buf_free(&j.out);
    buf_free(&j.tmp);
    PyMem_RawFree(j.members);
    PyMem_RawFree(ends);
    PyMem_RawFree(digests);
    if (r == 1) return answer;
    if (r < 0) return PyErr_NoMemory();
    Py_RETURN_NONE;
}

/* A proof bundle's JSON around one leaf's inclusion proof, written in one piece: head, then
 * '"record":' record ',' (unless record is None), then
 *   "leaf_hash":"0x..","leaf_index":index,"tree_size":n,"audit_path":["0x..",...]
 * then tail. levels: the tree as ledger.proofs.merkle keeps it (lists of 32-byte nodes, leaves
 * first); the path is RFC 6962 PATH(index): at each level the sibling of the node on the way
 * up, if it has one (a node without a partner moved up unchanged). */
#define MAX_LEVELS 64

/* inclusion_jsons(levels, indexes, head, records, tail) -> [bytes]: that text for each of
 * many leaves of one tree (records: None, or a list of bytes or None, one per index). The
 * nodes are looked up and the answers allocated with the GIL; the writing runs without it, so a
 * 10000-record verify does most of its work beside the server's other requests. */
typedef struct { PyObject *rec; Py_ssize_t rec_len, index, nodes, cap; char *out; } Job;

static char *put_hex_node(char *p, PyObject *node) {
    memcpy(p, "\"0x", 3);
    hex_into(p + 3, (const unsigned char *)PyBytes_AS_STRING(node), 32);
    p[67] = '"';
    return p + 68;
}

static PyObject *inclusion_jsons(PyObject *self, PyObject *args) {
    PyObject *levels, *indexes, *records;
    Py_buffer head, tail;
    if (!PyArg_ParseTuple(args, "O!O!y*Oy*", &PyList_Type, &levels, &PyList_Type, &indexes,
                          &head, &records, &tail))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(indexes), depth = PyList_GET_SIZE(levels);
    PyObject *out = NULL;
    Job *jobs = NULL;
    PyObject **path = NULL;   /* per job: the leaf, then its path nodes, each a new reference */
    if (depth < 1 || depth > MAX_LEVELS) {
        PyErr_SetString(PyExc_ValueError, "levels: 1 to 64 lists of nodes");
        goto done;
    }
    if (records != Py_None && (!PyList_Check(records) || PyList_GET_SIZE(records) != n)) {
        PyErr_SetString(PyExc_TypeError, "records: None, or a list as long as indexes");
        goto done;
    }
    for (Py_ssize_t level = 0; level < depth; level++)
        if (!PyList_Check(PyList_GET_ITEM(levels, level))) {
            PyErr_SetString(PyExc_TypeError, "levels: lists of nodes");
            goto done;
        }
    PyObject *leaves = PyList_GET_ITEM(levels, 0);
    Py_ssize_t size = PyList_GET_SIZE(leaves);
    jobs = PyMem_RawCalloc(n ? n : 1, sizeof(Job));
    path = PyMem_RawMalloc((n ? n : 1) * (MAX_LEVELS + 1) * sizeof(PyObject *));
    out = PyList_New(n);
    if (!jobs || !path || !out) { if (!PyErr_Occurred()) PyErr_NoMemory(); Py_CLEAR(out); goto done; }
    char digits[24];
    Py_ssize_t size_digits = utoa(size, digits);
    for (Py_ssize_t k = 0; k < n; k++) {
        Job *jb = &jobs[k];
        jb->index = PyLong_AsSsize_t(PyList_GET_ITEM(indexes, k));
        if (jb->index == -1 && PyErr_Occurred()) goto fail;
        if (jb->index < 0 || jb->index >= size) {
            PyErr_SetString(PyExc_IndexError, "no leaf at that index");
            goto fail;
        }
        PyObject *rec = records == Py_None ? Py_None : PyList_GET_ITEM(records, k);
        if (rec != Py_None) {
            if (!PyBytes_Check(rec)) { PyErr_SetString(PyExc_TypeError, "records: bytes or None"); goto fail; }
            Py_INCREF(rec);   /* held while the GIL is released, as the nodes are */
            jb->rec = rec;
            jb->rec_len = PyBytes_GET_SIZE(rec);
        }
        PyObject **mine = path + k * (MAX_LEVELS + 1);
        Py_ssize_t at = jb->index;
        for (Py_ssize_t level = 0; level < depth; level++, at >>= 1) {
            PyObject *nodes = PyList_GET_ITEM(levels, level);
            Py_ssize_t want = level ? at ^ 1 : at;   /* the leaf itself, then siblings */
            for (int pass = 0; pass < (level ? 1 : 2); pass++) {
                if (pass == 1) want = at ^ 1;
                if (want >= PyList_GET_SIZE(nodes)) continue;
                PyObject *node = PyList_GET_ITEM(nodes, want);
                if (!PyBytes_Check(node) || PyBytes_GET_SIZE(node) != 32) {
                    PyErr_SetString(PyExc_ValueError, "nodes: 32-byte hashes");
                    goto fail;
                }
                Py_INCREF(node);
                mine[jb->nodes++] = node;
            }
        }
        Py_ssize_t siblings = jb->nodes - 1;
        Py_ssize_t cap = head.len + (jb->rec ? jb->rec_len + 10 : 0) + tail.len
                         + 15 + 64 + 15 + utoa(jb->index, digits) + 13 + size_digits + 15
                         + 68 * siblings + (siblings ? siblings - 1 : 0) + 1;
        PyObject *text = PyBytes_FromStringAndSize(NULL, cap);
        if (!text) goto fail;
        PyList_SET_ITEM(out, k, text);
        jb->out = PyBytes_AS_STRING(text);
        jb->cap = cap;
    }
    int miscounted = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t k = 0; k < n; k++) {
        Job *jb = &jobs[k];
        PyObject **mine = path + k * (MAX_LEVELS + 1);
        char *p = jb->out;
#define PUT(text, len) do { memcpy(p, (text), (len)); p += (len); } while (0)
#define PUTS(text) PUT(text, sizeof(text) - 1)
        PUT(head.buf, head.len);
        if (jb->rec) { PUTS("\"record\":"); PUT(PyBytes_AS_STRING(jb->rec), jb->rec_len); *p++ = ','; }
        PUTS("\"leaf_hash\":\"0x");
        hex_into(p, (const unsigned char *)PyBytes_AS_STRING(mine[0]), 32);
        p += 64;
        PUTS("\",\"leaf_index\":");
        p += utoa(jb->index, p);
        PUTS(",\"tree_size\":");
        p += utoa(size, p);
        PUTS(",\"audit_path\":[");
        for (Py_ssize_t m = 1; m < jb->nodes; m++) {
            if (m > 1) *p++ = ',';
            p = put_hex_node(p, mine[m]);
        }
        *p++ = ']';
        PUT(tail.buf, tail.len);
#undef PUTS
#undef PUT
        if (p - jb->out != jb->cap) miscounted = 1;
    }
    Py_END_ALLOW_THREADS
    if (miscounted) {   /* not reached: the sizes above are exact */
        PyErr_SetString(PyExc_SystemError, "inclusion_jsons: size miscounted");
        goto fail;
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    for (Py_ssize_t k = 0; jobs && k < n; k++) {
        Py_XDECREF(jobs[k].rec);
        for (Py_ssize_t m = 0; path && m < jobs[k].nodes; m++) Py_DECREF(path[k * (MAX_LEVELS + 1) + m]);
    }
    PyMem_RawFree(jobs);
    PyMem_RawFree(path);
    PyBuffer_Release(&head);
    PyBuffer_Release(&tail);
    return out;
}

static PyMethodDef module_methods[] = {
    {"jcs_records", jcs_records, METH_VARARGS,
     "jcs_records(body, max_items) -> (RFC 8785 bytes, leaf hashes) of a body's records, or None"},
    {"inclusion_jsons", inclusion_jsons, METH_VARARGS,
     "inclusion_jsons(levels, indexes, head, records, tail) -> a bundle's JSON per index"},
    {"json_scan", json_scan, METH_O, "json_scan(body) -> (depth, plain): see the comment above"},
    {"merkle_root", merkle_root, METH_O, "merkle_root(hashes) -> RFC 6962 root of 32-byte leaf hashes"},
    {"record_keys", record_keys, METH_O, "record_keys(ids) -> signed 64-bit prefixes of SHA-256(id)"},
    {NULL}
};

/* ---------------------------------------------------------------- module */

/* SCHEMA: ((name, kind, required, personal, choices or pattern), ...), to compare with schema.py. */
static PyObject *schema_table(void) {
    PyObject *t = PyTuple_New(NF);
    if (!t) return NULL;
    for (int f = 0; f < NF; f++) {
        const Spec *sp = &SPECS[f];
        const char *detail = sp->choices ? sp->choices : sp->pattern ? sp->pattern : CLASS_PATTERNS[sp->cls];
        PyObject *e = Py_BuildValue("(ssNNs)", sp->name, KIND_NAMES[sp->kind], PyBool_FromLong(sp->required),
                                    PyBool_FromLong(sp->personal), detail);
        if (!e) { Py_DECREF(t); return NULL; }
        PyTuple_SET_ITEM(t, f, e);
    }
    return t;
}

static struct PyModuleDef rowfast_module = {
    PyModuleDef_HEAD_INIT, "ledger._speedups",
    "C speed-ups: the CSV fast path, Merkle roots, record keys (see _speedups.c).", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__speedups(void) {
    for (int c = 0; c < C_NONE; c++)
        for (const char *m = CLASS_MEMBERS[c]; *m; m++) CLASS_TABLE[c][(unsigned char)*m] = 1;
    if (PyType_Ready(&PlanType) < 0) return NULL;
    PyObject *m = PyModule_Create(&rowfast_module);
    if (!m) return NULL;
    Py_INCREF(&PlanType);
    if (PyModule_AddObject(m, "Plan", (PyObject *)&PlanType) < 0) { Py_DECREF(&PlanType); Py_DECREF(m); return NULL; }
    PyObject *schema = schema_table();
    if (!schema || PyModule_AddObject(m, "SCHEMA", schema) < 0) { Py_XDECREF(schema); Py_DECREF(m); return NULL; }
    if (PyModule_AddIntConstant(m, "MAX_LIST", MAX_LIST) < 0) { Py_DECREF(m); return NULL; }
    return m;
}
