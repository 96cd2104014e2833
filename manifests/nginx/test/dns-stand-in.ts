// A minimal authoritative DNS server on loopback UDP for the nginx routing tests: it answers A queries
// for the names it is given, NXDOMAIN for every other name, and records every question it was asked
// (so a test can prove nginx never asked about a name it should have refused).

import { createSocket, type Socket } from 'node:dgram';
import type { AddressInfo } from 'node:net';

export interface Question {
  name: string;
  type: number;
}

export const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_FORMERR = 1;

// Reads the question's name, starting right after the 12-byte header. Queries never use compression.
function readQuestion(msg: Buffer): { question: Question; end: number } | null {
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    if (offset >= msg.length) return null;
    const length = msg[offset]!;
    offset++;
    if (length === 0) break;
    if (length > 63 || offset + length > msg.length) return null;
    labels.push(msg.subarray(offset, offset + length).toString('latin1'));
    offset += length;
  }
  if (offset + 4 > msg.length) return null;
  return { question: { name: labels.join('.').toLowerCase(), type: msg.readUInt16BE(offset) }, end: offset + 4 };
}

export function buildResponse(query: Buffer, records: ReadonlyMap<string, string>): Buffer | null {
  if (query.length < 12) return null;
  const parsed = readQuestion(query);
  const header = Buffer.alloc(12);
  query.copy(header, 0, 0, 2); // id
  const rd = query[2]! & 0x01;
  const opcode = query[2]! & 0x78;
  if (!parsed) {
    header[2] = 0x80 | opcode | rd;
    header[3] = RCODE_FORMERR;
    return header;
  }
  const { question, end } = parsed;
  const questionBytes = query.subarray(12, end);
  const address = records.get(question.name);
  header[2] = 0x80 | opcode | 0x04 | rd; // QR, AA
  header[3] = 0x80 | (address === undefined ? RCODE_NXDOMAIN : 0); // RA
  header.writeUInt16BE(1, 4); // QDCOUNT
  if (address === undefined || question.type !== TYPE_A) return Buffer.concat([header, questionBytes]);
  header.writeUInt16BE(1, 6); // ANCOUNT
  const answer = Buffer.alloc(16);
  answer.writeUInt16BE(0xc00c, 0); // pointer to the name in the question
  answer.writeUInt16BE(TYPE_A, 2);
  answer.writeUInt16BE(CLASS_IN, 4);
  answer.writeUInt32BE(1, 6); // TTL: 1 s, so nothing lingers between test cases
  answer.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => answer.writeUInt8(Number(octet), 12 + i));
  return Buffer.concat([header, questionBytes, answer]);
}

export interface DnsStandIn {
  port: number;
  questions: Question[];
  close(): Promise<void>;
}

// `records` maps a fully qualified name (no trailing dot) to an IPv4 address.
export async function startDnsStandIn(records: ReadonlyMap<string, string>): Promise<DnsStandIn> {
  const socket: Socket = createSocket('udp4');
  const questions: Question[] = [];
  socket.on('message', (msg, remote) => {
    const parsed = msg.length >= 12 ? readQuestion(msg) : null;
    if (parsed) questions.push(parsed.question);
    const response = buildResponse(msg, records);
    if (response) socket.send(response, remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: (socket.address() as AddressInfo).port,
    questions,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
