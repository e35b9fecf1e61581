/**
 * Which IP addresses are public unicast: what an SSRF-safe fetch may connect to. Loopback, private,
 * link-local (and so cloud metadata), CGNAT, documentation, benchmarking, multicast and reserved ranges are
 * not; IPv4 addresses embedded in IPv6 (mapped, NAT64, 6to4) are judged as the IPv4 address they carry.
 */
import net from 'node:net';

interface Range4 {
  base: number;
  bits: number;
  label: string;
  cidr: string;
}
interface Range6 {
  base: bigint;
  bits: number;
  label: string;
  cidr: string;
}

/** Dotted quad to an unsigned 32-bit number; undefined unless a strict dotted quad. */
function parseIPv4(address: string): number | undefined {
  if (!net.isIPv4(address)) return undefined;
  return address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
}

/** IPv6 (with or without an embedded dotted quad or a %zone) to a 128-bit bigint; undefined if not IPv6. */
function parseIPv6(address: string): bigint | undefined {
  let text = address;
  const zone = text.indexOf('%');
  if (zone !== -1) text = text.slice(0, zone);
  if (!net.isIPv6(text)) return undefined;
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  if (tail.includes('.')) {
    const v4 = parseIPv4(tail);
    if (v4 === undefined) return undefined;
    text = `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  const groups = halves.length > 1 ? [...head, ...Array<string>(8 - head.length - rest.length).fill('0'), ...rest] : head;
  if (groups.length !== 8) return undefined;
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

function range4(cidr: string, label: string): Range4 {
  const [ip, bits] = cidr.split('/') as [string, string];
  const base = parseIPv4(ip);
  if (base === undefined) throw new Error(`bad CIDR ${cidr}`);
  return { base, bits: Number(bits), label, cidr };
}

function range6(cidr: string, label: string): Range6 {
  const [ip, bits] = cidr.split('/') as [string, string];
  const base = parseIPv6(ip);
  if (base === undefined) throw new Error(`bad CIDR ${cidr}`);
  return { base, bits: Number(bits), label, cidr };
}

function in4(address: number, range: Range4): boolean {
  // Division instead of >>> so that /32 and /0 behave (no shift by 32).
  const size = 2 ** (32 - range.bits);
  return Math.floor(address / size) === Math.floor(range.base / size);
}

function in6(address: bigint, range: Range6): boolean {
  const shift = BigInt(128 - range.bits);
  return address >> shift === range.base >> shift;
}

/** Everything that is not public unicast IPv4. Order matters only where ranges nest (broadcast before 240/4). */
const NON_PUBLIC_V4: Range4[] = [
  range4('0.0.0.0/8', '"this network"'),
  range4('10.0.0.0/8', 'private'),
  range4('100.64.0.0/10', 'shared (carrier-grade NAT)'),
  range4('127.0.0.0/8', 'loopback'),
  range4('169.254.0.0/16', 'link-local'), // includes the cloud metadata endpoint 169.254.169.254
  range4('172.16.0.0/12', 'private'),
  range4('192.0.0.0/24', 'IETF protocol assignment'),
  range4('192.0.2.0/24', 'documentation (TEST-NET-1)'),
  range4('192.31.196.0/24', 'reserved (AS112)'),
  range4('192.52.193.0/24', 'reserved (AMT)'),
  range4('192.88.99.0/24', 'reserved (6to4 relay anycast)'),
  range4('192.168.0.0/16', 'private'),
  range4('192.175.48.0/24', 'reserved (AS112)'),
  range4('198.18.0.0/15', 'benchmarking'),
  range4('198.51.100.0/24', 'documentation (TEST-NET-2)'),
  range4('203.0.113.0/24', 'documentation (TEST-NET-3)'),
  range4('224.0.0.0/4', 'multicast'),
  range4('255.255.255.255/32', 'broadcast'),
  range4('240.0.0.0/4', 'reserved'),
];

/** IPv6 ranges that carry an IPv4 address: allowed only when that IPv4 address is public. */
const EMBEDDING_V6: Array<{ range: Range6; embedded: (address: bigint) => number }> = [
  { range: range6('::ffff:0:0/96', 'IPv4-mapped'), embedded: (a) => Number(a & 0xffffffffn) },
  { range: range6('64:ff9b::/96', 'NAT64'), embedded: (a) => Number(a & 0xffffffffn) },
  { range: range6('2002::/16', '6to4'), embedded: (a) => Number((a >> 80n) & 0xffffffffn) },
];

const NON_PUBLIC_V6: Range6[] = [
  range6('::/128', 'unspecified'),
  range6('::1/128', 'loopback'),
  range6('::/96', 'deprecated IPv4-compatible'),
  range6('::ffff:0:0:0/96', 'IPv4-translated'),
  range6('64:ff9b:1::/48', 'local-use NAT64'),
  range6('100::/64', 'discard-only'),
  range6('2001::/23', 'IETF protocol assignment (incl. Teredo)'),
  range6('2001:db8::/32', 'documentation'),
  range6('2620:4f:8000::/48', 'reserved (AS112)'),
  range6('3fff::/20', 'documentation'),
  range6('5f00::/16', 'reserved (SRv6)'),
  range6('fc00::/7', 'unique local (private)'),
  range6('fe80::/10', 'link-local'),
  range6('fec0::/10', 'deprecated site-local'),
  range6('ff00::/8', 'multicast'),
];

/** All of today's global unicast IPv6 space; anything outside it (and not listed above) is refused too. */
const GLOBAL_UNICAST_V6 = range6('2000::/3', 'global unicast');

function describe(label: string, cidr: string): string {
  return `${/^[aeiou]/i.test(label) ? 'an' : 'a'} ${label} address (${cidr})`;
}

function ipv4Reason(value: number): string | undefined {
  const hit = NON_PUBLIC_V4.find((range) => in4(value, range));
  return hit && describe(hit.label, hit.cidr);
}

function dottedQuad(value: number): string {
  return [value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff].join('.');
}

/**
 * Why `address` is not a public unicast address ("a loopback address (127.0.0.0/8)"), or undefined when it is.
 * Anything that is not an IP address is refused as well.
 */
export function nonPublicReason(address: string): string | undefined {
  const v4 = parseIPv4(address);
  if (v4 !== undefined) return ipv4Reason(v4);
  const v6 = parseIPv6(address);
  if (v6 === undefined) return 'not an IP address';
  for (const { range, embedded } of EMBEDDING_V6) {
    if (!in6(v6, range)) continue;
    const inner = embedded(v6);
    const reason = ipv4Reason(inner);
    // Public embedded IPv4: the address is as public as that IPv4 address is.
    return reason && `${describe(range.label, range.cidr)} embedding ${dottedQuad(inner)}, ${reason}`;
  }
  const hit = NON_PUBLIC_V6.find((range) => in6(v6, range));
  if (hit) return describe(hit.label, hit.cidr);
  if (!in6(v6, GLOBAL_UNICAST_V6)) return describe('non-global-unicast', 'outside 2000::/3');
  return undefined;
}

export function isPublicAddress(address: string): boolean {
  return nonPublicReason(address) === undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// The fetch

/** The URL for messages: no credentials, query or fragment. */
