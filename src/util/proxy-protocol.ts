// The PROXY protocol header (HAProxy's proxy-protocol.txt, versions 1 and 2) a load balancer sends before the
// client's first byte, so the server learns the client's address. A pure parser over the bytes received so far:
// it never reads past the header, never allocates more than the header's declared size, and says "incomplete"
// only while the bytes can still become a valid header (so a caller waits at most for a bounded prefix).
import { isIP } from 'node:net';

/** The v2 signature: 12 bytes no other protocol (SSH, HTTP, TLS) starts with. */
export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v1's longest line, CRLF included ("PROXY TCP6 " + two full IPv6 addresses + two ports + CRLF). */
export const V1_MAX_LENGTH = 107;
const V2_FIXED = 16;

export interface ProxyAddress {
  readonly address: string;
  readonly port: number;
}

export type ProxyParse =
  | { readonly status: 'incomplete' }
  | { readonly status: 'invalid'; readonly reason: string }
  | {
      readonly status: 'ok';
      /** Bytes the header takes; what follows belongs to the proxied protocol. */
      readonly length: number;
      readonly version: 1 | 2;
      /**
       * The client as the proxy saw it; undefined for v1 UNKNOWN, v2 LOCAL (the proxy's own health check) and
       * v2 address families without one (UNSPEC, UNIX): the spec says to use the connection's own address then.
       */
      readonly source: ProxyAddress | undefined;
      readonly destination: ProxyAddress | undefined;
    };

const INCOMPLETE: ProxyParse = { status: 'incomplete' };
const invalid = (reason: string): ProxyParse => ({ status: 'invalid', reason });

/** True when `data` is a (possibly partial) prefix of `expected`, or starts with all of it. */
function startsLike(data: Buffer, expected: Buffer): boolean {
  const n = Math.min(data.length, expected.length);
  return data.subarray(0, n).equals(expected.subarray(0, n));
}

export function parseProxyHeader(data: Buffer): ProxyParse {
  if (data.length === 0) return INCOMPLETE;
  if (startsLike(data, V2_SIGNATURE)) return data.length < V2_FIXED ? INCOMPLETE : parseV2(data);
  if (startsLike(data, V1_PREFIX)) return parseV1(data);
  return invalid('not a PROXY protocol header');
}

const PORT = /^(0|[1-9]\d{0,4})$/;

function parseV1(data: Buffer): ProxyParse {
  const window = data.subarray(0, V1_MAX_LENGTH);
  const end = window.indexOf('\r\n', 0, 'latin1');
  if (end < 0) {
    // A lone CR or LF before the end, or a line that has already reached the limit, can never become valid.
    if (window.includes(0x0a) || window.subarray(0, window.length - 1).includes(0x0d))
      return invalid('v1 header: stray CR or LF');
    return window.length >= V1_MAX_LENGTH ? invalid('v1 header longer than 107 bytes') : INCOMPLETE;
  }
  const line = window.subarray(V1_PREFIX.length, end);
  // Only printable US-ASCII belongs in a v1 line; anything else is garbage or an attack on a log.
  for (const byte of line) if (byte < 0x20 || byte > 0x7e) return invalid('v1 header: non-ASCII byte');
  const fields = line.toString('latin1').split(' ');
  const length = end + 2;
  if (fields[0] === 'UNKNOWN') {
    // The spec: the rest of the line is to be ignored, the connection's own addresses used.
    return { status: 'ok', length, version: 1, source: undefined, destination: undefined };
  }
  if (fields[0] !== 'TCP4' && fields[0] !== 'TCP6')
    return invalid('v1 header: protocol is not TCP4, TCP6 or UNKNOWN');
  if (fields.length !== 5) return invalid('v1 header: expected 4 fields after the protocol');
  const family = fields[0] === 'TCP4' ? 4 : 6;
  const [, src = '', dst = '', sport = '', dport = ''] = fields;
  if (isIP(src) !== family || isIP(dst) !== family) return invalid(`v1 header: not an IPv${family} address`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535)
    return invalid('v1 header: bad port');
  return {
    status: 'ok',
    length,
    version: 1,
    source: { address: src, port: Number(sport) },
    destination: { address: dst, port: Number(dport) },
  };
}

function ipv4(bytes: Buffer): string {
  return [...bytes].join('.');
}

function ipv6(bytes: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes.readUInt16BE(i).toString(16));
  // Canonical text (zero runs compressed, ::ffff:a.b.c.d) by way of URL's host parser.
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function parseV2(data: Buffer): ProxyParse {
  const versionCommand = data[12] ?? 0;
  if (versionCommand >> 4 !== 2) return invalid('v2 header: version is not 2');
  const command = versionCommand & 0x0f;
  if (command > 1) return invalid('v2 header: command is neither LOCAL nor PROXY');
  const familyTransport = data[13] ?? 0;
  const family = familyTransport >> 4;
  const transport = familyTransport & 0x0f;
  if (family > 3 || transport > 2) return invalid('v2 header: unknown address family or transport');
  const length = V2_FIXED + data.readUInt16BE(14);
  if (data.length < length) return INCOMPLETE;
  const body = data.subarray(V2_FIXED, length);
  const none = { status: 'ok', length, version: 2, source: undefined, destination: undefined } as const;
  // LOCAL: the proxy speaking for itself (a health check); the address block, if any, is to be skipped.
  if (command === 0) return none;
  // UNSPEC or UNIX: nothing usable as a network address; the connection's own address stands.
  if (family === 0 || family === 3) return none;
  if (transport !== 1) return invalid('v2 header: a PROXY over a non-stream transport');
  const size = family === 1 ? 12 : 36;
  if (body.length < size) return invalid('v2 header: address block shorter than its family needs');
  const width = family === 1 ? 4 : 16;
  const text = family === 1 ? ipv4 : ipv6;
  // Whatever follows the address block is TLVs (ALPN, authority, …) we do not use; the length skips them.
  return {
    ...none,
    source: { address: text(body.subarray(0, width)), port: body.readUInt16BE(2 * width) },
    destination: { address: text(body.subarray(width, 2 * width)), port: body.readUInt16BE(2 * width + 2) },
  };
}
