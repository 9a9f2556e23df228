// Framed binary Thrift (TFramedTransport + strict TBinaryProtocol) for bench/meta's load
// generator and canned server: just what they need to pre-encode `echo(1: string msg)` CALL
// and REPLY frames and to find a message's type and seqid without decoding the rest.
//
// Frame: i32 length, then the message: i32 0x8001_00TT (strict version | message type),
// i32 name length, name bytes, i32 seqid, then the args (CALL) or result (REPLY) struct.
// echo's args struct is field 1, type STRING (11); its result struct is field 0 (success).

export const CALL = 1;
export const REPLY = 2;
export const EXCEPTION = 3;
export const ONEWAY = 4;
const VERSION_1 = 0x80010000;
const T_STRING = 11;
const T_STOP = 0;

/** A framed strict-binary message whose struct holds one string field. */
export function encodeFrame(type, name, seqid, fieldId, value) {
  const nameBytes = Buffer.from(name, 'utf8');
  const valueBytes = Buffer.from(value, 'utf8');
  const messageLength = 4 + 4 + nameBytes.length + 4 + (1 + 2 + 4 + valueBytes.length) + 1;
  const f = Buffer.alloc(4 + messageLength);
  let o = 0;
  f.writeInt32BE(messageLength, o); o += 4;
  f.writeUInt32BE((VERSION_1 | type) >>> 0, o); o += 4;
  f.writeInt32BE(nameBytes.length, o); o += 4;
  nameBytes.copy(f, o); o += nameBytes.length;
  f.writeInt32BE(seqid | 0, o); o += 4;
  f[o++] = T_STRING;
  f.writeInt16BE(fieldId, o); o += 2;
  f.writeInt32BE(valueBytes.length, o); o += 4;
  valueBytes.copy(f, o); o += valueBytes.length;
  f[o++] = T_STOP;
  return f;
}

/** Offset of the seqid in a frame from encodeFrame (frame length included). */
export const seqidOffset = (name) => 12 + Buffer.byteLength(name, 'utf8');

/**
 * A resumable framed-message scanner: feed() it chunks; for every complete frame it calls
 * onFrame(type, seqid, prefix, prefixLength, frameLength) where prefix holds the frame's first
 * prefixLength bytes (length word included; up to PREFIX: the header of any sane method name
 * plus the start of the struct). Bodies past the prefix are skipped, never copied.
 * feed() returns false (and the connection should be dropped) on a frame that is not strict
 * binary or whose length is out of range.
 */
export const PREFIX = 160;
export function frameScanner(onFrame, maxFrame = 16 * 1024 * 1024) {
  const prefix = Buffer.alloc(PREFIX);
  // phase 0: the length word; 1: version and name length; 2: name and seqid;
  // 3: the rest of the prefix; 4: skipping the rest of the frame.
  let phase = 0;
  let have = 0;
  let want = 4;
  let frameLength = 0;
  let skip = 0;
  let type = 0;
  let seqid = 0;
  const done = () => {
    onFrame(type, seqid, prefix, have, frameLength);
    phase = 0;
    have = 0;
    want = 4;
  };
  return function feed(chunk) {
    let off = 0;
    const len = chunk.length;
    while (off < len) {
      if (phase === 4) {
        const k = Math.min(skip, len - off);
        skip -= k;
        off += k;
        if (skip > 0) return true;
        done();
        continue;
      }
      const k = Math.min(want - have, len - off);
      chunk.copy(prefix, have, off, off + k);
      have += k;
      off += k;
      if (have < want) return true;
      if (phase === 0) {
        const body = prefix.readInt32BE(0);
        if (body < 12 || body > maxFrame) return false;
        frameLength = 4 + body;
        phase = 1;
        want = 12;
      } else if (phase === 1) {
        const version = prefix.readUInt32BE(4);
        if ((version & 0xffff0000) >>> 0 !== VERSION_1) return false;
        type = version & 0xff;
        const nameLength = prefix.readInt32BE(8);
        want = 12 + nameLength + 4;
        if (nameLength < 0 || want > frameLength || want > PREFIX) return false;
        phase = 2;
      } else if (phase === 2) {
        seqid = prefix.readInt32BE(want - 4);
        phase = 3;
        want = Math.min(PREFIX, frameLength);
      } else {
        skip = frameLength - have;
        if (skip === 0) done();
        else phase = 4;
      }
      // A phase whose want is already met (phase 3 with nothing more to read) moves on at once.
      while (phase === 3 && have >= want) {
        skip = frameLength - have;
        if (skip === 0) done();
        else phase = 4;
      }
    }
    return true;
  };
}
