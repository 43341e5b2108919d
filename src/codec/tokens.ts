// The compact link form of one hypha binary message: header layout and token byte values.
// Tokens 0x80..0xff are msgpack format bytes copied verbatim (containers: children follow as tokens).

export const FORMAT_VERSION = 1;

/** header: byte0 = version<<4 | valueCount<<1 | hasTrailing; byte1 = seq; bytes 2-3 = table digest
 * (low 16 bits, big-endian) before this message; then the original length as a varint */
export const HEADER_FIXED_BYTES = 4;

export const T_STR_REF1 = 0x00; // ..0x1f: string slot 0..31
export const T_STR_REF2 = 0x20; // ..0x2f: slot 32 + ((t & 0x0f) << 8 | next byte)
export const T_OBJ_REF1 = 0x30; // ..0x37: object slot 0..7
export const T_OBJ_REF2 = 0x38; // ..0x3b: slot 8 + ((t & 3) << 8 | next byte)
export const T_STR_REFV = 0x3c; // varint slot
export const T_OBJ_REFV = 0x3d; // varint slot
export const T_STR_SPLIT = 0x3e; // prefix string-part token, suffix string-part token; whole string interned
export const T_MAP_SHAPE = 0x3f; // varint shape slot, then the values
export const T_MAP_NEWSHAPE = 0x40; // raw msgpack map header, then key/value tokens; keys become a shape
export const T_STR_NEW = 0x41; // varint length, utf-8 bytes (minimal msgpack header implied); interned
export const T_UINT7 = 0x42; // one byte: positive fixint FIXINT_TOKENS..127
export const T_STATIC = 0x43; // one byte: static dictionary index (never evicted)
export const T_BLOB = 0x44; // raw bin header, varint ref length, ref bytes (payload plane hook)
export const T_RAW_VALUE = 0x45; // varint length, the msgpack bytes verbatim (subtree deeper than maxDepth)
export const T_DEF = 0x46; // the next value, once written, becomes an object-table entry
// 0x47 reserved
export const T_FIXINT0 = 0x48; // ..0x7f: positive fixint 0..55
export const FIXINT_TOKENS = 0x80 - T_FIXINT0; // 56

export const STR_REF1_SLOTS = 32;
export const STR_REF2_LIMIT = STR_REF1_SLOTS + 16 * 256; // 4128
export const OBJ_REF1_SLOTS = 8;
export const OBJ_REF2_LIMIT = OBJ_REF1_SLOTS + 4 * 256; // 1032
