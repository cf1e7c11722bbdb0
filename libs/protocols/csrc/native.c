/*
 * trackstream_protocols._native: the decode hot paths in C (CPython C API).
 *
 * The pure-Python code in trackstream_protocols stays the specification and the differential
 * oracle (libs/protocols/tests/test_native_differential.py). This module does only what the
 * profile says is hot, and gives up (returns to the Python code) on anything unusual:
 *
 *   gt06_scan      whole, well-formed GT06 frames back to back (Gt06FrameSplitter._scan)
 *   gt06_decode    the usual GT06 location layouts (0x10 0x11 0x12 0x22 0x2D 0x31 0xA0); every
 *                  other frame, or a layout that does not fit, goes to the Python decoder
 *   jt808_split    whole JT/T 808 frames between two 0x7E of one read (un-escaping, XOR check)
 *   jt808_decode   a 2013 header without sub-packaging + a 0x0200 body with the standard
 *                  additional items (the Jimi vendor items 0xE8/0xEB are decoded by calling the
 *                  Python function that does it); None for anything else (the Python decoder
 *                  then runs)
 *
 * Results are the same Python objects the Python code builds: the slotted dataclasses of the
 * package (Gt06Frame, Gt06Location, Fix, CellTower, Jt808Frame, Jt808Header, ...). They are
 * created with tp_alloc and their slots filled at the offsets of their member descriptors,
 * which bind() looks up and checks once (every dataclass field a writable object slot, no
 * __post_init__), instead of calling the dataclass __init__ with keyword arguments.
 *
 * Errors: this module never raises a ProtocolError itself. Whenever the input is not the plain
 * case, the Python code decides, so error types and messages are the Python ones by
 * construction. Only MemoryError (and TypeError for wrong argument types) can come from here.
 */
#define PY_SSIZE_T_CLEAN
/* the interface the Python side expects (trackstream_protocols.native.ABI_VERSION): bump it with
 * any change of a function's arguments or results, so a stale build is refused, not misused */
#define NATIVE_ABI_VERSION 1

#include <Python.h>
#include <datetime.h>
#include <structmember.h>
#include <string.h>

/* ------------------------------------------------------------------------------------------ */
/* slotted classes built without their __init__                                               */

#define MAX_FIELDS 12

typedef struct {
    PyTypeObject *type; /* a strong reference, set by bind() */
    Py_ssize_t count;
    Py_ssize_t offsets[MAX_FIELDS];
} SlotClass;

static SlotClass Gt06Frame_c, Gt06Location_c, Fix_c, CellTower_c;
static SlotClass Jt808Frame_c, Jt808Header_c, Jt808Packet_c, Location_c, AdditionalInfo_c;

/* the Python decode() GT06 frames go to when this module does not answer */
static PyObject *gt06_fallback = NULL;
/* jt808.location._vendor_item: the Jimi 0xE8/0xEB items stay Python's */
static PyObject *jt808_vendor_item = NULL;
static PyObject *str_comma = NULL;
static PyObject *datetime_timezone_type = NULL; /* datetime.timezone */
static PyObject *str_utcoffset = NULL;
static PyObject *str_tz = NULL;
static PyObject *str_require_crc = NULL;

enum { FRAME_PROTOCOL, FRAME_CONTENT, FRAME_SERIAL, FRAME_EXTENDED, FRAME_CRC_OK, FRAME_RAW };
enum { LOC_PROTOCOL, LOC_SERIAL, LOC_FIX, LOC_CELL, LOC_ATTRIBUTES };
enum {
    FIX_TIME, FIX_LATITUDE, FIX_LONGITUDE, FIX_SPEED, FIX_COURSE, FIX_VALID, FIX_SATELLITES,
    FIX_ALTITUDE, FIX_ATTRIBUTES
};
enum { CELL_MCC, CELL_MNC, CELL_LAC, CELL_CID, CELL_SIGNAL };
enum { JFRAME_CONTENT, JFRAME_CHECKSUM, JFRAME_CHECKSUM_OK };
enum {
    HDR_MSG_ID, HDR_BODY_LENGTH, HDR_ENCRYPTION, HDR_VERSION_FLAG, HDR_PROTOCOL_VERSION,
    HDR_PHONE, HDR_SERIAL, HDR_PACKET_TOTAL, HDR_PACKET_INDEX
};
enum { PKT_HEADER, PKT_MESSAGE, PKT_CHECKSUM_OK };
enum { JLOC_FIX, JLOC_ALARM, JLOC_STATUS, JLOC_EXTRAS, JLOC_UNKNOWN, JLOC_TRAILING };
enum { INFO_ID, INFO_VALUE };

static const char *const GT06_FRAME_FIELDS[] = {
    "protocol", "content", "serial", "extended", "crc_ok", "raw", NULL};
static const char *const GT06_LOCATION_FIELDS[] = {
    "protocol", "serial", "fix", "cell", "attributes", NULL};
static const char *const FIX_FIELDS[] = {
    "fix_time", "latitude", "longitude", "speed_kmh", "course_deg", "valid", "satellites",
    "altitude_m", "attributes", NULL};
static const char *const CELL_FIELDS[] = {"mcc", "mnc", "lac", "cid", "signal_strength", NULL};
static const char *const JT808_FRAME_FIELDS[] = {"content", "checksum", "checksum_ok", NULL};
static const char *const JT808_HEADER_FIELDS[] = {
    "msg_id", "body_length", "encryption", "version_flag", "protocol_version", "phone_bcd",
    "serial", "packet_total", "packet_index", NULL};
static const char *const JT808_PACKET_FIELDS[] = {"header", "message", "checksum_ok", NULL};
static const char *const JT808_LOCATION_FIELDS[] = {
    "fix", "alarm_flags", "status_flags", "extras", "unknown", "trailing", NULL};
static const char *const ADDITIONAL_INFO_FIELDS[] = {"id", "value", NULL};

/* Look up and check the slots of dataclass ``cls`` named ``names`` (in that order; they must be
 * all of its fields). Raises TypeError when the class is not what this module can build. */
static int
slotclass_bind(SlotClass *sc, PyObject *cls, const char *const *names)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "bind: expected a class");
        return -1;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *fields = PyObject_GetAttrString(cls, "__dataclass_fields__");
    if (fields == NULL) {
        PyErr_Format(PyExc_TypeError, "bind: %s is not a dataclass", type->tp_name);
        return -1;
    }
    Py_ssize_t count = 0;
    while (names[count] != NULL) {
        count++;
    }
    int ok = PyDict_Check(fields) && PyDict_GET_SIZE(fields) == count && count <= MAX_FIELDS;
    Py_DECREF(fields);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "bind: %s must be a dataclass of exactly %zd fields",
                     type->tp_name, count);
        return -1;
    }
    if (PyObject_HasAttrString(cls, "__post_init__") || type->tp_dictoffset != 0) {
        PyErr_Format(PyExc_TypeError, "bind: %s must be slotted without __post_init__",
                     type->tp_name);
        return -1;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *descr = PyObject_GetAttrString(cls, names[i]);
        if (descr == NULL) {
            return -1;
        }
        int good = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        if (good) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            PyTypeObject *owner = ((PyDescrObject *)descr)->d_type;
            good = member->type == T_OBJECT_EX && !(member->flags & READONLY) &&
                   PyType_IsSubtype(type, owner) && member->offset > 0 &&
                   member->offset + (Py_ssize_t)sizeof(PyObject *) <= type->tp_basicsize;
            sc->offsets[i] = member->offset;
        }
        Py_DECREF(descr);
        if (!good) {
            PyErr_Format(PyExc_TypeError, "bind: %s.%s is not a writable object slot",
                         type->tp_name, names[i]);
            return -1;
        }
    }
    sc->type = (PyTypeObject *)Py_NewRef(cls);
    sc->count = count;
    return 0;
}

/* Bind ``count`` classes at once: all of them, or (on an error) none. */
static int
slotclass_bind_all(SlotClass **targets, PyObject *const *classes,
                   const char *const *const *names, int count)
{
    SlotClass bound[8] = {{0}};
    for (int i = 0; i < count; i++) {
        if (slotclass_bind(&bound[i], classes[i], names[i]) < 0) {
            for (int j = 0; j < i; j++) {
                Py_DECREF(bound[j].type);
            }
            return -1;
        }
    }
    for (int i = 0; i < count; i++) {
        PyTypeObject *previous = targets[i]->type;
        *targets[i] = bound[i];
        Py_XDECREF(previous);
    }
    return 0;
}

/* A new, empty instance (every slot NULL); fill every slot with slot_set before handing it out. */
static inline PyObject *
slot_new(const SlotClass *sc)
{
    return sc->type->tp_alloc(sc->type, 0);
}

/* Store ``value`` (a new reference, stolen) in slot ``i`` of a fresh instance. */
static inline void
slot_set(PyObject *obj, const SlotClass *sc, int i, PyObject *value)
{
    *(PyObject **)((char *)obj + sc->offsets[i]) = value;
}

/* Slot ``i`` of ``obj`` (borrowed; NULL when unset). */
static inline PyObject *
slot_get(PyObject *obj, const SlotClass *sc, int i)
{
    return *(PyObject **)((char *)obj + sc->offsets[i]);
}

/* Build an instance from ``values`` (new references, all stolen, also on failure). Any NULL
 * value means a failed allocation: the others are released and NULL returned. */
static PyObject *
slot_build(const SlotClass *sc, PyObject **values)
{
    PyObject *obj = NULL;
    int missing = 0;
    for (Py_ssize_t i = 0; i < sc->count; i++) {
        missing |= values[i] == NULL;
    }
    if (!missing) {
        obj = slot_new(sc);
    }
    if (obj == NULL) {
        for (Py_ssize_t i = 0; i < sc->count; i++) {
            Py_XDECREF(values[i]);
        }
        return NULL;
    }
    for (Py_ssize_t i = 0; i < sc->count; i++) {
        slot_set(obj, sc, (int)i, values[i]);
    }
    return obj;
}

static inline PyObject *
new_bool(int value)
{
    return Py_NewRef(value ? Py_True : Py_False);
}

/* ------------------------------------------------------------------------------------------ */
/* check values                                                                               */

static uint16_t crc_x25_table[256];

static void
crc_x25_init(void)
{
    for (int i = 0; i < 256; i++) {
        uint16_t crc = (uint16_t)i;
        for (int bit = 0; bit < 8; bit++) {
            crc = (crc & 1) ? (uint16_t)((crc >> 1) ^ 0x8408) : (uint16_t)(crc >> 1);
        }
        crc_x25_table[i] = crc;
    }
}

/* CRC-16/X.25: poly 0x1021 reflected (0x8408), init and xorout 0xFFFF. */
static uint16_t
crc_x25(const unsigned char *data, Py_ssize_t size)
{
    uint16_t crc = 0xFFFF;
    for (Py_ssize_t i = 0; i < size; i++) {
        crc = (uint16_t)((crc >> 8) ^ crc_x25_table[(crc ^ data[i]) & 0xFF]);
    }
    return (uint16_t)(crc ^ 0xFFFF);
}

static PyObject *
native_crc16_x25(PyObject *module, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    uint16_t crc = crc_x25(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromLong(crc);
}

static inline uint16_t
be16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t
be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
be64(const unsigned char *p)
{
    return (uint64_t)be32(p) << 32 | be32(p + 4);
}

/* ------------------------------------------------------------------------------------------ */
/* times                                                                                      */

/* datetime(y, mo, d, h, mi, s, tzinfo=UTC) - tz.utcoffset(None) for a fixed-offset ``tz``
 * (None for UTC itself). Sets *invalid (and returns NULL, no exception) when it is no date. */
static PyObject *
utc_time(int year, int month, int day, int hour, int minute, int second, PyObject *tz,
         int *invalid)
{
    PyObject *when = PyDateTimeAPI->DateTime_FromDateAndTime(
        year, month, day, hour, minute, second, 0, PyDateTime_TimeZone_UTC,
        PyDateTimeAPI->DateTimeType);
    if (when == NULL) {
        if (PyErr_ExceptionMatches(PyExc_ValueError)) {
            PyErr_Clear();
            *invalid = 1;
        }
        return NULL;
    }
    if (tz == NULL || tz == PyDateTime_TimeZone_UTC) {
        return when;
    }
    PyObject *offset = PyObject_CallMethodOneArg(tz, str_utcoffset, Py_None);
    if (offset == NULL) {
        Py_DECREF(when);
        return NULL;
    }
    PyObject *shifted = PyNumber_Subtract(when, offset);
    Py_DECREF(offset);
    Py_DECREF(when);
    return shifted;
}

static inline int
is_fixed_offset(PyObject *tz)
{
    return tz == PyDateTime_TimeZone_UTC || (PyObject *)Py_TYPE(tz) == datetime_timezone_type;
}

/* ------------------------------------------------------------------------------------------ */
/* GT06                                                                                       */

/* gt06_scan(data, max_frame_size, drop_bad_crc, frames) -> (offset, returned, bad_crc)
 *
 * Gt06FrameSplitter._scan: takes whole, well-formed counted frames back to back from data[0]
 * into ``frames`` and stops at the first thing that needs the splitter's care (garbage, a
 * partial frame, an uncounted Wi-Fi header, a missing trailer, a length out of bounds). */
static PyObject *
gt06_scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyList_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "gt06_scan(data: bytes, max_frame_size, drop, list)");
        return NULL;
    }
    if (Gt06Frame_c.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "gt06 classes are not bound");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t limit = PyLong_AsSsize_t(args[1]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int drop = PyObject_IsTrue(args[2]);
    if (drop < 0) {
        return NULL;
    }
    PyObject *frames = args[3];
    Py_ssize_t pos = 0, end = size - 5, returned = 0, bad = 0;
    while (pos <= end) {
        const unsigned char *p = data + pos;
        Py_ssize_t length, total, head;
        int protocol, extended;
        if (p[0] == 0x78 && p[1] == 0x78) {
            protocol = p[3];
            if (protocol == 0x17 || protocol == 0x69) {
                break;
            }
            length = p[2];
            total = length + 5;
            head = 4;
            extended = 0;
        }
        else if (p[0] == 0x79 && p[1] == 0x79) {
            length = p[2] << 8 | p[3];
            total = length + 6;
            protocol = p[4];
            head = 5;
            extended = 1;
        }
        else {
            break;
        }
        if (length < 5 || total > limit || pos + total > size || p[total - 2] != 0x0D ||
            p[total - 1] != 0x0A) {
            break;
        }
        pos += total;
        int crc_ok = crc_x25(p + 2, total - 6) == be16(p + total - 4);
        if (!crc_ok) {
            bad++;
            if (drop) {
                continue;
            }
        }
        PyObject *values[6] = {
            PyLong_FromLong(protocol),
            PyBytes_FromStringAndSize((const char *)p + head, total - 6 - head),
            PyLong_FromLong(be16(p + total - 6)),
            new_bool(extended),
            new_bool(crc_ok),
            PyBytes_FromStringAndSize((const char *)p, total),
        };
        PyObject *frame = slot_build(&Gt06Frame_c, values);
        if (frame == NULL) {
            return NULL;
        }
        int failed = PyList_Append(frames, frame);
        Py_DECREF(frame);
        if (failed) {
            return NULL;
        }
        returned++;
    }
    return Py_BuildValue("(nnn)", pos, returned, bad);
}

#define GT06_GPS_SIZE 18 /* date/time 6, GPS info 1, latitude 4, longitude 4, speed 1, course 2 */
#define COORD_SCALE 1800000.0 /* 1/30000 minute units -> degrees */

typedef enum { CELL_NONE, CELL_2G, CELL_WIDE, CELL_4G } CellLayout;

/* CellTower(mcc, mnc, lac, cid), or None for an all-zero cell (a new reference). */
static PyObject *
gt06_cell(unsigned long mcc, unsigned long mnc, unsigned long long lac, unsigned long long cid)
{
    if (mcc == 0 && lac == 0 && cid == 0) {
        return Py_NewRef(Py_None);
    }
    PyObject *values[5] = {
        PyLong_FromUnsignedLong(mcc),
        PyLong_FromUnsignedLong(mnc),
        PyLong_FromUnsignedLongLong(lac),
        PyLong_FromUnsignedLongLong(cid),
        Py_NewRef(Py_None),
    };
    return slot_build(&CellTower_c, values);
}

/* _cell_at: the cell block at ``pos`` -> 1 (cell set, *pos advanced), 0 (does not fit: the
 * Python decoder decides), -1 (error). */
static int
gt06_cell_at(const unsigned char *c, Py_ssize_t size, Py_ssize_t *pos, CellLayout layout,
             PyObject **cell)
{
    const unsigned char *p = c + *pos;
    int wide = layout == CELL_WIDE || (p[0] & 0x80);
    Py_ssize_t block;
    unsigned long mcc, mnc;
    unsigned long long lac, cid;
    switch (layout) {
    case CELL_2G: /* >HBHBH or >HHHBH */
        block = wide ? 9 : 8;
        if (*pos + block > size) {
            return 0;
        }
        mcc = be16(p);
        mnc = wide ? be16(p + 2) : p[2];
        lac = be16(p + (wide ? 4 : 3));
        cid = (unsigned long long)p[wide ? 6 : 5] << 16 | be16(p + (wide ? 7 : 6));
        break;
    case CELL_WIDE: /* >HHHI */
        block = 10;
        if (*pos + block > size) {
            return 0;
        }
        mcc = be16(p);
        mnc = be16(p + 2);
        lac = be16(p + 4);
        cid = be32(p + 6);
        break;
    case CELL_4G: /* >HBIQ or >HHIQ */
        block = wide ? 16 : 15;
        if (*pos + block > size) {
            return 0;
        }
        mcc = be16(p);
        mnc = wide ? be16(p + 2) : p[2];
        lac = be32(p + (wide ? 4 : 3));
        cid = be64(p + (wide ? 8 : 7));
        break;
    default:
        return 0;
    }
    *cell = gt06_cell(mcc & 0x7FFF, mnc, lac, cid);
    if (*cell == NULL) {
        return -1;
    }
    *pos += block;
    return 1;
}

static int
dict_set_bool(PyObject *dict, const char *key, int value)
{
    return PyDict_SetItemString(dict, key, value ? Py_True : Py_False);
}

static int
dict_set_long(PyObject *dict, const char *key, long long value)
{
    PyObject *number = PyLong_FromLongLong(value);
    if (number == NULL) {
        return -1;
    }
    int failed = PyDict_SetItemString(dict, key, number);
    Py_DECREF(number);
    return failed;
}

/* _location_fast + _gps_fix. Returns a new Gt06Location, NULL with an exception, or NULL
 * without one when the Python decoder must decide (*declined set). */
static PyObject *
gt06_location(PyObject *frame, int protocol, PyObject *tz, int *declined)
{
    PyObject *content_obj = slot_get(frame, &Gt06Frame_c, FRAME_CONTENT);
    PyObject *serial = slot_get(frame, &Gt06Frame_c, FRAME_SERIAL);
    PyObject *protocol_obj = slot_get(frame, &Gt06Frame_c, FRAME_PROTOCOL);
    if (content_obj == NULL || serial == NULL || !PyBytes_CheckExact(content_obj)) {
        *declined = 1;
        return NULL;
    }
    const unsigned char *c = (const unsigned char *)PyBytes_AS_STRING(content_obj);
    Py_ssize_t size = PyBytes_GET_SIZE(content_obj);
    CellLayout layout;
    switch (protocol) {
    case 0x10:
        layout = CELL_NONE;
        break;
    case 0x11:
        layout = CELL_WIDE;
        break;
    case 0xA0:
        layout = CELL_4G;
        break;
    default: /* 0x12 0x22 0x2D 0x31 */
        layout = CELL_2G;
    }
    if (size < GT06_GPS_SIZE) {
        *declined = 1;
        return NULL;
    }
    PyObject *cell = NULL;
    Py_ssize_t pos = GT06_GPS_SIZE;
    if (layout != CELL_NONE && size > pos) {
        int found = gt06_cell_at(c, size, &pos, layout, &cell);
        if (found <= 0) {
            *declined = found == 0;
            return NULL;
        }
    }
    else {
        cell = Py_NewRef(Py_None);
    }
    unsigned int info = c[6], speed = c[15], flags = be16(c + 16);
    uint32_t lat = be32(c + 7), lon = be32(c + 11);

    PyObject *attrs = PyDict_New();
    if (attrs == NULL) {
        goto error;
    }
    if ((flags & 0x4000) && dict_set_bool(attrs, "ignition", flags & 0x8000) < 0) {
        goto error;
    }
    int upload_trailer = protocol == 0x22 || protocol == 0x2D || protocol == 0x37 ||
                         protocol == 0xA0;
    if (upload_trailer && size - pos >= 3) {
        if (dict_set_bool(attrs, "ignition", c[pos] > 0) < 0 ||
            dict_set_long(attrs, "event", c[pos + 1]) < 0 ||
            dict_set_bool(attrs, "archive", c[pos + 2] > 0) < 0) {
            goto error;
        }
        pos += 3;
    }
    if (size - pos == 4 && dict_set_long(attrs, "odometer", be32(c + pos)) < 0) {
        goto error;
    }

    int invalid = 0;
    PyObject *fix;
    PyObject *when = utc_time(2000 + c[0], c[1], c[2], c[3], c[4], c[5], tz, &invalid);
    if (when == NULL) {
        if (!invalid) {
            goto error;
        }
        fix = Py_NewRef(Py_None);
    }
    else {
        double latitude = lat / COORD_SCALE, longitude = lon / COORD_SCALE;
        if (!(flags & 0x0400)) { /* bit 10: north latitude */
            latitude = -latitude;
        }
        if (flags & 0x0800) { /* bit 11: west longitude */
            longitude = -longitude;
        }
        PyObject *values[9] = {
            when,
            PyFloat_FromDouble(latitude),
            PyFloat_FromDouble(longitude),
            PyFloat_FromDouble((double)speed),
            PyFloat_FromDouble((double)(flags & 0x03FF)),
            new_bool(flags & 0x1000),
            PyLong_FromLong(info & 0x0F),
            Py_NewRef(Py_None),
            PyDict_Copy(attrs),
        };
        fix = slot_build(&Fix_c, values);
        if (fix == NULL) {
            goto error;
        }
    }
    PyObject *values[5] = {Py_NewRef(protocol_obj), Py_NewRef(serial), fix, cell, attrs};
    return slot_build(&Gt06Location_c, values);

error:
    Py_XDECREF(cell);
    Py_XDECREF(attrs);
    return NULL;
}

/* gt06_decode(frame, *, tz=UTC, require_crc=False): gt06.decode with the usual location
 * layouts in C; everything else is passed on, arguments unchanged, to the Python decode. */
static PyObject *
gt06_decode(PyObject *module, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (gt06_fallback == NULL || Gt06Location_c.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "gt06 classes are not bound");
        return NULL;
    }
    if (nargs != 1) {
        goto fallback;
    }
    PyObject *frame = args[0];
    PyObject *tz = PyDateTime_TimeZone_UTC;
    if (kwnames != NULL) {
        Py_ssize_t count = PyTuple_GET_SIZE(kwnames);
        for (Py_ssize_t i = 0; i < count; i++) {
            PyObject *name = PyTuple_GET_ITEM(kwnames, i);
            PyObject *value = args[nargs + i];
            if (name == str_tz || PyUnicode_Compare(name, str_tz) == 0) {
                tz = value;
            }
            else if (name == str_require_crc || PyUnicode_Compare(name, str_require_crc) == 0) {
                /* require_crc only matters for a frame whose CRC did not match */
                if (value != Py_False && value != Py_True) {
                    goto fallback;
                }
                if (value == Py_True && Py_IS_TYPE(frame, Gt06Frame_c.type) &&
                    slot_get(frame, &Gt06Frame_c, FRAME_CRC_OK) != Py_True) {
                    goto fallback;
                }
            }
            else {
                goto fallback;
            }
        }
    }
    if (!Py_IS_TYPE(frame, Gt06Frame_c.type) || !is_fixed_offset(tz)) {
        goto fallback;
    }
    PyObject *protocol_obj = slot_get(frame, &Gt06Frame_c, FRAME_PROTOCOL);
    if (protocol_obj == NULL || !PyLong_CheckExact(protocol_obj)) {
        goto fallback;
    }
    long protocol = PyLong_AsLong(protocol_obj);
    if (protocol == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        goto fallback;
    }
    switch (protocol) {
    case 0x10:
    case 0x11:
    case 0x12:
    case 0x22:
    case 0x2D:
    case 0x31:
    case 0xA0: {
        int declined = 0;
        PyObject *message = gt06_location(frame, (int)protocol, tz, &declined);
        if (message != NULL || !declined) {
            return message;
        }
        break;
    }
    default:
        break;
    }
fallback:
    return PyObject_Vectorcall(gt06_fallback, args, nargsf, kwnames);
}

/* gt06_bind(Gt06Frame, Gt06Location, Fix, CellTower, decode) */
static PyObject *
gt06_bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyCallable_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "gt06_bind(Gt06Frame, Gt06Location, Fix, CellTower, decode)");
        return NULL;
    }
    if (PyCFunction_Check(args[4]) &&
        PyCFunction_GET_FUNCTION(args[4]) == (PyCFunction)(void (*)(void))gt06_decode) {
        PyErr_SetString(PyExc_TypeError, "gt06_bind: the fallback must be the Python decode");
        return NULL;
    }
    SlotClass *targets[] = {&Gt06Frame_c, &Gt06Location_c, &Fix_c, &CellTower_c};
    const char *const *names[] = {
        GT06_FRAME_FIELDS, GT06_LOCATION_FIELDS, FIX_FIELDS, CELL_FIELDS};
    if (slotclass_bind_all(targets, args, names, 4) < 0) {
        return NULL;
    }
    Py_XSETREF(gt06_fallback, Py_NewRef(args[4]));
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* JT/T 808                                                                                   */

#define JT808_FLAG 0x7E
#define JT808_ESCAPE 0x7D
#define JT808_MIN_FRAME 13 /* header (12) + check byte */

/* jt808_split(data, offset, max_frame_size, keep_bad_checksum, frames)
 *     -> (offset, garbage_bytes, bad_checksum_frames, oversized_frames)
 *
 * The common case of Jt808FrameSplitter.feed (synchronised, nothing buffered): every candidate
 * between two 0x7E of ``data`` from ``offset`` on, un-escaped and checked, into ``frames``. The
 * returned offset is just after the last 0x7E (the bytes after it hold no 0x7E). */
static PyObject *
jt808_split(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5 || !PyBytes_Check(args[0]) || !PyList_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "jt808_split(data: bytes, offset, max_frame_size, keep, list)");
        return NULL;
    }
    if (Jt808Frame_c.type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "jt808 classes are not bound");
        return NULL;
    }
    const unsigned char *data = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    Py_ssize_t size = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t pos = PyLong_AsSsize_t(args[1]);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int keep = PyObject_IsTrue(args[3]);
    if (keep < 0) {
        return NULL;
    }
    if (pos < 0 || pos > size) {
        PyErr_SetString(PyExc_ValueError, "jt808_split: offset out of range");
        return NULL;
    }
    PyObject *frames = args[4];
    Py_ssize_t garbage = 0, bad = 0, oversized = 0;
    unsigned char *scratch = NULL; /* un-escaped candidate, at most min(limit, size) bytes */
    Py_ssize_t scratch_size = 0;
    while (pos < size) {
        const unsigned char *flag = memchr(data + pos, JT808_FLAG, (size_t)(size - pos));
        if (flag == NULL) {
            break;
        }
        Py_ssize_t flag_at = flag - data, n = flag_at - pos;
        const unsigned char *escaped = data + pos;
        pos = flag_at + 1;
        if (n > limit) {
            garbage += n;
            oversized++;
            continue;
        }
        if (n == 0) {
            continue;
        }
        if (scratch_size < n) {
            Py_ssize_t want = limit < size ? limit : size;
            PyMem_Free(scratch);
            scratch = PyMem_Malloc((size_t)want);
            if (scratch == NULL) {
                PyErr_NoMemory();
                return NULL;
            }
            scratch_size = want;
        }
        Py_ssize_t out = 0;
        unsigned char check = 0;
        int bad_escape = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            unsigned char b = escaped[i];
            if (b == JT808_ESCAPE) {
                if (i + 1 >= n || (escaped[i + 1] != 0x01 && escaped[i + 1] != 0x02)) {
                    bad_escape = 1;
                    break;
                }
                b = escaped[++i] == 0x01 ? JT808_ESCAPE : JT808_FLAG;
            }
            scratch[out++] = b;
            check ^= b;
        }
        if (bad_escape || out < JT808_MIN_FRAME) {
            garbage += n;
            continue;
        }
        /* the XOR of content and check byte is 0 exactly when the check byte matches */
        int checksum_ok = check == 0;
        if (!checksum_ok) {
            bad++;
            if (!keep) {
                continue;
            }
        }
        PyObject *values[3] = {
            PyBytes_FromStringAndSize((const char *)scratch, out - 1),
            PyLong_FromLong(scratch[out - 1]),
            new_bool(checksum_ok),
        };
        PyObject *frame = slot_build(&Jt808Frame_c, values);
        if (frame == NULL || PyList_Append(frames, frame) < 0) {
            Py_XDECREF(frame);
            PyMem_Free(scratch);
            return NULL;
        }
        Py_DECREF(frame);
    }
    PyMem_Free(scratch);
    return Py_BuildValue("(nnnn)", pos, garbage, bad, oversized);
}

static const struct {
    int bit;
    const char *name;
} JT808_ALARM_BITS[] = {
    {0, "sos"},         {1, "overspeed"},     {2, "fatigueDriving"}, {4, "fault"},
    {5, "gpsAntennaCut"}, {6, "gpsAntennaCut"}, {7, "lowBattery"},     {8, "powerOff"},
    {9, "fault"},       {10, "fault"},        {11, "fault"},         {15, "vibration"},
    {16, "tampering"},  {17, "tampering"},    {18, "lowBattery"},    {19, "parking"},
    {20, "geofence"},   {26, "general"},      {28, "movement"},      {29, "accident"},
    {30, "accident"},
};
#define JT808_ALARM_COUNT (sizeof(JT808_ALARM_BITS) / sizeof(JT808_ALARM_BITS[0]))

/* ",".join(alarm_names(flags)) (flags != 0 and at least one named bit), else NULL/no error
 * with *none set. */
static PyObject *
jt808_alarm_text(uint32_t flags, int *none)
{
    char text[256];
    size_t used = 0;
    const char *seen[JT808_ALARM_COUNT];
    size_t count = 0;
    for (size_t i = 0; i < JT808_ALARM_COUNT; i++) {
        if (!(flags >> JT808_ALARM_BITS[i].bit & 1)) {
            continue;
        }
        const char *name = JT808_ALARM_BITS[i].name;
        int duplicate = 0;
        for (size_t j = 0; j < count; j++) {
            duplicate |= strcmp(seen[j], name) == 0;
        }
        if (duplicate) {
            continue;
        }
        size_t length = strlen(name);
        if (count) {
            text[used++] = ',';
        }
        memcpy(text + used, name, length);
        used += length;
        seen[count++] = name;
    }
    if (!count) {
        *none = 1;
        return NULL;
    }
    return PyUnicode_FromStringAndSize(text, (Py_ssize_t)used);
}

/* alarm_names(flags) as a new list of str (for the vendor items to append to). */
static PyObject *
jt808_alarm_list(uint32_t flags)
{
    int none = 0;
    PyObject *text = flags ? jt808_alarm_text(flags, &none) : NULL;
    if (text == NULL) {
        return flags && !none ? NULL : PyList_New(0);
    }
    PyObject *names = PyUnicode_Split(text, str_comma, -1);
    Py_DECREF(text);
    return names;
}

/* ",".join(dict.fromkeys(names)) */
static PyObject *
jt808_join_unique(PyObject *names)
{
    PyObject *unique = PyDict_New();
    if (unique == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        if (PyDict_SetItem(unique, PyList_GET_ITEM(names, i), Py_None) < 0) {
            Py_DECREF(unique);
            return NULL;
        }
    }
    PyObject *text = PyUnicode_Join(str_comma, unique);
    Py_DECREF(unique);
    return text;
}

/* _standard_item: 1 decoded into attrs, 0 not a standard item, -1 error. Tracks "sat". */
static int
jt808_standard_item(int id, const unsigned char *v, Py_ssize_t n, PyObject *attrs, long *sat)
{
    PyObject *value = NULL;
    const char *key = NULL;
    if (id == 0x01 && n == 4) {
        key = "odometer"; /* 0.1 km -> m */
        value = PyLong_FromLongLong((long long)be32(v) * 100);
    }
    else if (id == 0x02 && n == 2) {
        unsigned int fuel = be16(v);
        key = "fuel"; /* 0.1 L */
        value = fuel & 0x8000 ? PyLong_FromLong(fuel & 0x7FFF) : PyFloat_FromDouble(fuel / 10.0);
    }
    else if (id == 0x03 && n == 2) {
        key = "obdSpeed";
        value = PyFloat_FromDouble(be16(v) / 10.0);
    }
    else if (id == 0x14 && n == 4) {
        key = "videoAlarm";
        value = PyLong_FromUnsignedLong(be32(v));
    }
    else if (id == 0x25 && n == 4) {
        key = "input";
        value = PyLong_FromUnsignedLong(be32(v));
    }
    else if (id == 0x2A && n == 2) {
        key = "ioStatus";
        value = PyLong_FromLong(be16(v));
    }
    else if (id == 0x2B && n == 4) {
        uint32_t analog = be32(v);
        if (dict_set_long(attrs, "adc1", analog & 0xFFFF) < 0) {
            return -1;
        }
        key = "adc2";
        value = PyLong_FromLong(analog >> 16);
    }
    else if (id == 0x30 && n == 1) {
        key = "rssi";
        value = PyLong_FromLong(v[0]);
    }
    else if (id == 0x31 && n == 1) {
        key = "sat";
        value = PyLong_FromLong(v[0]);
        *sat = v[0];
    }
    else {
        return 0;
    }
    if (value == NULL) {
        return -1;
    }
    int failed = PyDict_SetItemString(attrs, key, value);
    Py_DECREF(value);
    return failed ? -1 : 1;
}

static inline int
bcd_value(unsigned char b)
{
    return (b >> 4) <= 9 && (b & 0x0F) <= 9 ? (b >> 4) * 10 + (b & 0x0F) : -1;
}

/* decode_location(body) for the plain case -> a new Location; NULL + *declined when the
 * Python code must decide; NULL with an exception on error. */
static PyObject *
jt808_location(const unsigned char *d, Py_ssize_t size, PyObject *tz, int jimi, int strict_items,
               int *declined)
{
    if (size < 28) {
        *declined = 1;
        return NULL;
    }
    int t[6];
    for (int i = 0; i < 6; i++) {
        t[i] = bcd_value(d[22 + i]);
        if (t[i] < 0) {
            *declined = 1;
            return NULL;
        }
    }
    /* the item walk first: a vendor item or a strict-mode tail sends the frame to Python */
    Py_ssize_t pos = 28;
    while (pos < size) {
        if (size - pos < 2 || d[pos + 1] > size - pos - 2) {
            if (strict_items) {
                *declined = 1;
                return NULL;
            }
            break;
        }
        pos += 2 + d[pos + 1];
    }
    int invalid = 0;
    PyObject *when = utc_time(2000 + t[0], t[1], t[2], t[3], t[4], t[5], tz, &invalid);
    if (when == NULL) {
        *declined = invalid;
        return NULL;
    }
    uint32_t alarm = be32(d), status = be32(d + 4), lat = be32(d + 8), lon = be32(d + 12);
    unsigned int altitude_raw = be16(d + 16), speed = be16(d + 18), course = be16(d + 20);

    PyObject *attrs = NULL, *extras = NULL, *unknown = NULL, *trailing = NULL, *status_obj = NULL;
    PyObject *alarms = NULL; /* the alarm names as a list, once a vendor item may add to them */
    attrs = PyDict_New();
    extras = PyList_New(0);
    unknown = PyList_New(0);
    status_obj = PyLong_FromUnsignedLong(status);
    if (attrs == NULL || extras == NULL || unknown == NULL || status_obj == NULL ||
        PyDict_SetItemString(attrs, "status", status_obj) < 0 ||
        dict_set_bool(attrs, "ignition", status & 0x01) < 0 ||
        dict_set_bool(attrs, "blocked", status & 0x400) < 0) {
        goto error;
    }
    long sat = -1;
    pos = 28;
    while (pos < size) {
        if (size - pos < 2 || d[pos + 1] > size - pos - 2) {
            trailing = PyBytes_FromStringAndSize((const char *)d + pos, size - pos);
            if (trailing == NULL) {
                goto error;
            }
            break;
        }
        int id = d[pos];
        Py_ssize_t n = d[pos + 1];
        const unsigned char *v = d + pos + 2;
        pos += 2 + n;
        PyObject *values[2] = {
            PyLong_FromLong(id), PyBytes_FromStringAndSize((const char *)v, n)};
        PyObject *info = slot_build(&AdditionalInfo_c, values);
        if (info == NULL) {
            goto error;
        }
        int failed = PyList_Append(extras, info);
        int decoded = failed ? -1 : jt808_standard_item(id, v, n, attrs, &sat);
        if (decoded == 0 && jimi && (id == 0xE8 || id == 0xEB)) {
            if (alarms == NULL) {
                alarms = jt808_alarm_list(alarm);
            }
            decoded = -1;
            if (alarms != NULL) {
                PyObject *call[4] = {
                    slot_get(info, &AdditionalInfo_c, INFO_ID),
                    slot_get(info, &AdditionalInfo_c, INFO_VALUE), attrs, alarms};
                PyObject *result = PyObject_Vectorcall(jt808_vendor_item, call, 4, NULL);
                if (result != NULL) {
                    decoded = PyObject_IsTrue(result);
                    Py_DECREF(result);
                }
            }
        }
        if (decoded == 0) {
            failed = PyList_Append(unknown, info); /* not a standard item, nor a vendor one */
        }
        Py_DECREF(info);
        if (failed || decoded < 0) {
            goto error;
        }
    }
    if (trailing == NULL) {
        trailing = PyBytes_FromStringAndSize(NULL, 0);
        if (trailing == NULL) {
            goto error;
        }
    }
    if (alarms != NULL) {
        if (PyList_GET_SIZE(alarms)) {
            PyObject *text = jt808_join_unique(alarms);
            if (text == NULL) {
                goto error;
            }
            int failed = PyDict_SetItemString(attrs, "alarm", text);
            Py_DECREF(text);
            if (failed) {
                goto error;
            }
        }
        Py_CLEAR(alarms);
    }
    else if (alarm) {
        int none = 0;
        PyObject *text = jt808_alarm_text(alarm, &none);
        if (text == NULL && !none) {
            goto error;
        }
        if (text != NULL) {
            int failed = PyDict_SetItemString(attrs, "alarm", text);
            Py_DECREF(text);
            if (failed) {
                goto error;
            }
        }
    }
    double latitude = lat / 1e6 * (status & 0x04 ? -1.0 : 1.0);
    double longitude = lon / 1e6 * (status & 0x08 ? -1.0 : 1.0);
    long altitude = altitude_raw & 0x8000 ? -(long)(altitude_raw & 0x7FFF) : (long)altitude_raw;
    PyObject *fix_values[9] = {
        when,
        PyFloat_FromDouble(latitude),
        PyFloat_FromDouble(longitude),
        PyFloat_FromDouble(speed / 10.0),
        PyFloat_FromDouble((double)course),
        new_bool(status & 0x02),
        sat >= 0 ? PyLong_FromLong(sat) : Py_NewRef(Py_None),
        PyFloat_FromDouble((double)altitude),
        attrs,
    };
    when = NULL;
    attrs = NULL;
    PyObject *fix = slot_build(&Fix_c, fix_values);
    if (fix == NULL) {
        goto error;
    }
    PyObject *location_values[6] = {
        fix,
        PyLong_FromUnsignedLong(alarm),
        status_obj,
        PyList_AsTuple(extras),
        PyList_AsTuple(unknown),
        trailing,
    };
    Py_DECREF(extras);
    Py_DECREF(unknown);
    return slot_build(&Location_c, location_values);

error:
    Py_XDECREF(alarms);
    Py_XDECREF(when);
    Py_XDECREF(attrs);
    Py_XDECREF(extras);
    Py_XDECREF(unknown);
    Py_XDECREF(trailing);
    Py_XDECREF(status_obj);
    return NULL;
}

/* jt808_decode(frame, device_tz, strict_body_length, jimi_extensions, strict_additional_items)
 *     -> Jt808Packet | None
 *
 * Jt808Decoder.decode for a 2013 header without sub-packaging or encryption and a 0x0200 body
 * the C code decodes in full; None for everything else (the Python decoder then runs). */
static PyObject *
jt808_decode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "jt808_decode(frame, tz, strict, jimi, strict_items)");
        return NULL;
    }
    if (Jt808Packet_c.type == NULL || jt808_vendor_item == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "jt808 classes are not bound");
        return NULL;
    }
    PyObject *frame = args[0], *tz = args[1];
    if (!Py_IS_TYPE(frame, Jt808Frame_c.type) || !is_fixed_offset(tz)) {
        Py_RETURN_NONE;
    }
    int strict_length = PyObject_IsTrue(args[2]);
    int jimi = PyObject_IsTrue(args[3]);
    int strict_items = PyObject_IsTrue(args[4]);
    if (strict_length < 0 || jimi < 0 || strict_items < 0) {
        return NULL;
    }
    PyObject *content = slot_get(frame, &Jt808Frame_c, JFRAME_CONTENT);
    PyObject *checksum_ok = slot_get(frame, &Jt808Frame_c, JFRAME_CHECKSUM_OK);
    if (content == NULL || checksum_ok == NULL || !PyBytes_CheckExact(content)) {
        Py_RETURN_NONE;
    }
    const unsigned char *c = (const unsigned char *)PyBytes_AS_STRING(content);
    Py_ssize_t size = PyBytes_GET_SIZE(content);
    if (size < 12) {
        Py_RETURN_NONE;
    }
    unsigned int msg_id = be16(c), props = be16(c + 2);
    Py_ssize_t body_length = props & 0x3FF, body_size = size - 12;
    unsigned int encryption = (props >> 10) & 0x07;
    if ((props & 0x6000) || encryption || msg_id != 0x0200 ||
        (strict_length && body_size != body_length)) {
        Py_RETURN_NONE;
    }
    int declined = 0;
    PyObject *message = jt808_location(c + 12, body_size, tz, jimi, strict_items, &declined);
    if (message == NULL) {
        if (declined) {
            Py_RETURN_NONE;
        }
        return NULL;
    }
    PyObject *header_values[9] = {
        PyLong_FromLong(msg_id),
        PyLong_FromSsize_t(body_length),
        PyLong_FromLong(encryption),
        Py_NewRef(Py_False),
        Py_NewRef(Py_None),
        PyBytes_FromStringAndSize((const char *)c + 4, 6),
        PyLong_FromLong(be16(c + 10)),
        Py_NewRef(Py_None),
        Py_NewRef(Py_None),
    };
    PyObject *header = slot_build(&Jt808Header_c, header_values);
    if (header == NULL) {
        Py_DECREF(message);
        return NULL;
    }
    PyObject *packet_values[3] = {header, message, Py_NewRef(checksum_ok)};
    return slot_build(&Jt808Packet_c, packet_values);
}

/* jt808_bind(Jt808Frame, Jt808Header, Jt808Packet, Location, AdditionalInfo, Fix,
 *            vendor_item) */
static PyObject *
jt808_bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7 || !PyCallable_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "jt808_bind(Jt808Frame, Jt808Header, Jt808Packet, "
                                         "Location, AdditionalInfo, Fix, vendor_item)");
        return NULL;
    }
    SlotClass *targets[] = {
        &Jt808Frame_c, &Jt808Header_c, &Jt808Packet_c, &Location_c, &AdditionalInfo_c, &Fix_c};
    const char *const *names[] = {
        JT808_FRAME_FIELDS, JT808_HEADER_FIELDS, JT808_PACKET_FIELDS, JT808_LOCATION_FIELDS,
        ADDITIONAL_INFO_FIELDS, FIX_FIELDS};
    if (slotclass_bind_all(targets, args, names, 6) < 0) {
        return NULL;
    }
    Py_XSETREF(jt808_vendor_item, Py_NewRef(args[6]));
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* module                                                                                     */

static PyMethodDef native_methods[] = {
    {"crc16_x25", (PyCFunction)native_crc16_x25, METH_O, "CRC-16/X.25 of a bytes-like object."},
    {"gt06_bind", (PyCFunction)(void (*)(void))gt06_bind, METH_FASTCALL,
     "Bind the GT06 value classes and the Python decode the C decode falls back to."},
    {"gt06_scan", (PyCFunction)(void (*)(void))gt06_scan, METH_FASTCALL,
     "Whole, well-formed GT06 frames back to back: (offset, returned, bad_crc)."},
    {"gt06_decode", (PyCFunction)(void (*)(void))gt06_decode, METH_FASTCALL | METH_KEYWORDS,
     "gt06.decode with the usual location layouts in C."},
    {"jt808_bind", (PyCFunction)(void (*)(void))jt808_bind, METH_FASTCALL,
     "Bind the JT/T 808 value classes."},
    {"jt808_split", (PyCFunction)(void (*)(void))jt808_split, METH_FASTCALL,
     "Whole JT/T 808 frames between 0x7E flags: (offset, garbage, bad_checksum, oversized)."},
    {"jt808_decode", (PyCFunction)(void (*)(void))jt808_decode, METH_FASTCALL,
     "A plain 2013 0x0200 frame -> Jt808Packet; None when the Python decoder must decide."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef native_module = {
    PyModuleDef_HEAD_INIT,
    "trackstream_protocols._native",
    "The decode hot paths of trackstream_protocols in C (see trackstream_protocols.native).",
    -1,
    native_methods,
    NULL,
    NULL,
    NULL,
    NULL,
};

PyMODINIT_FUNC
PyInit__native(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    crc_x25_init();
    datetime_timezone_type = (PyObject *)Py_TYPE(PyDateTime_TimeZone_UTC);
    Py_INCREF(datetime_timezone_type);
    str_utcoffset = PyUnicode_InternFromString("utcoffset");
    str_tz = PyUnicode_InternFromString("tz");
    str_require_crc = PyUnicode_InternFromString("require_crc");
    str_comma = PyUnicode_InternFromString(",");
    if (str_utcoffset == NULL || str_tz == NULL || str_require_crc == NULL || str_comma == NULL) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&native_module);
    if (module != NULL && PyModule_AddIntConstant(module, "ABI_VERSION", NATIVE_ABI_VERSION) < 0) {
        Py_CLEAR(module);
    }
    return module;
}
