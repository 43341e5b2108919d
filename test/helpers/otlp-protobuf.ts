// Decodes the parts of an OTLP/HTTP protobuf trace export (ExportTraceServiceRequest, opentelemetry-proto
// trace/v1 and common/v1) that the tests check, straight from the wire format: resources' attributes, and
// per span its ids, name, kind, attributes and status code. Unknown fields are skipped.

interface Field { no: number; wire: number; int: bigint; bytes: Buffer }

function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  const varint = (): bigint => {
    let result = 0n;
    for (let shift = 0n; ; shift += 7n) {
      if (pos >= buf.length) throw new Error('truncated varint');
      const b = buf[pos++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
    }
  };
  const take = (n: number): Buffer => {
    if (pos + n > buf.length) throw new Error('truncated field');
    pos += n;
    return buf.subarray(pos - n, pos);
  };
  while (pos < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) yield { no, wire, int: varint(), bytes: Buffer.alloc(0) };
    else if (wire === 2) yield { no, wire, int: 0n, bytes: take(Number(varint())) };
    else if (wire === 1) yield { no, wire, int: 0n, bytes: take(8) };
    else if (wire === 5) yield { no, wire, int: 0n, bytes: take(4) };
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

export type AttributeValue = string | number | boolean;

export interface DecodedSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attrs: Record<string, AttributeValue>;
  status?: { code?: number };
  /** The resource's service.name and hypha_accel.role. */
  service: string;
  role: string;
}

function anyValue(buf: Buffer): AttributeValue {
  for (const f of fields(buf)) {
    if (f.no === 1) return f.bytes.toString('utf8');
    if (f.no === 2) return f.int !== 0n;
    if (f.no === 3) return Number(BigInt.asIntN(64, f.int));
    if (f.no === 4) return f.bytes.readDoubleLE(0);
  }
  return '';
}

function attributes(into: Record<string, AttributeValue>, buf: Buffer): void {
  let key = '';
  let value: AttributeValue = '';
  for (const f of fields(buf)) {
    if (f.no === 1) key = f.bytes.toString('utf8');
    else if (f.no === 2) value = anyValue(f.bytes);
  }
  into[key] = value;
}

export function decodeTraceExport(body: Buffer): DecodedSpan[] {
  const spans: DecodedSpan[] = [];
  for (const resourceSpans of fields(body)) {
    if (resourceSpans.no !== 1) continue;
    const resource: Record<string, AttributeValue> = {};
    const raw: Buffer[] = [];
    for (const f of fields(resourceSpans.bytes)) {
      if (f.no === 1) for (const a of fields(f.bytes)) if (a.no === 1) attributes(resource, a.bytes);
      if (f.no === 2) for (const s of fields(f.bytes)) if (s.no === 2) raw.push(s.bytes);
    }
    for (const buf of raw) {
      const span: DecodedSpan = { traceId: '', spanId: '', name: '', kind: 0, attrs: {}, service: String(resource['service.name'] ?? ''), role: String(resource['hypha_accel.role'] ?? '') };
      for (const f of fields(buf)) {
        if (f.no === 1) span.traceId = f.bytes.toString('hex');
        else if (f.no === 2) span.spanId = f.bytes.toString('hex');
        else if (f.no === 4 && f.bytes.length > 0) span.parentSpanId = f.bytes.toString('hex');
        else if (f.no === 5) span.name = f.bytes.toString('utf8');
        else if (f.no === 6) span.kind = Number(f.int);
        else if (f.no === 9) attributes(span.attrs, f.bytes);
        else if (f.no === 15) for (const s of fields(f.bytes)) if (s.no === 3) span.status = { code: Number(s.int) };
      }
      spans.push(span);
    }
  }
  return spans;
}
