// The /proc parsers, on lines as this machine's kernel prints them (captured from a test namespace).

import { describe, expect, test } from '@jest/globals';
import {
  canonicalIp, parseLocalAddresses, parseSockstat, parseTcpCounters, parseTcpLine, parseTimeWaitEvents, parseTcpTable, podUidOfCgroup, sockstatFigure, TcpState, TcpTableScanner,
} from '../src/node/proc-net.ts';

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 2673974 1 000000002c13a606 100 0 0 10 0
   1: 0000000000000000FFFF00000200D20A:1F90 0000000000000000FFFF00000100D20A:884E 01 00000000:00000000 00:00000000 00000000 65534        0 20213681 1 00000000522840b6 20 0 0 10 -1
   2: 0000000000000000FFFF00000200D20A:1F90 0000000000000000FFFF00000100D20A:884F 06 00000000:00000000 03:0000175B 00000000     0        0 0 3 00000000b3e05445
   3: 000080FE00000000FF1AD3C44EB505FE:1F90 000080FE00000000FF1AD3C44FB505FE:D431 01 00000000:00000000 02:000A7D8B 00000000 65534        0 20213700 1 0000000000000000 20 4 30 10 -1
`;

const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 65534        0 2673975 1 0000000000000000 100 0 0 10 0
   1: 0200D20A:1F90 0100D20A:8C80 06 00000000:00000000 03:0000175A 00000000     0        0 0 3 0000000000000000
  12: 0200D20A:9C40 0300D20A:1538 01 00000000:00000000 00:00000000 00000000 65534        0 2674001 1 0000000000000000 20 4 30 10 -1
  13: 0200D20A:1F90 0900D20A:A000 03 00000000:00000000 01:00000064 00000000     0        0 0 0 0000000000000000
`;

describe('tcp tables', () => {
  test('IPv4: addresses in host byte order, states, TIME_WAIT timers in clock ticks', () => {
    const entries = parseTcpTable(TCP4);
    expect(entries).toHaveLength(4);
    expect(entries[0]).toMatchObject({ local: { ip: '0.0.0.0', port: 8080 }, state: TcpState.LISTEN });
    expect(entries[1]).toEqual({
      local: { ip: '10.210.0.2', port: 8080 },
      remote: { ip: '10.210.0.1', port: 0x8c80 },
      state: TcpState.TIME_WAIT,
      timer: 3,
      timerLeftMs: 0x175a * 10,
      inode: 0,
    });
    expect(entries[2]).toMatchObject({ local: { ip: '10.210.0.2', port: 40000 }, remote: { ip: '10.210.0.3', port: 5432 }, state: TcpState.ESTABLISHED });
    expect(entries[3]).toMatchObject({ state: TcpState.SYN_RECV });
  });

  test('IPv6: IPv4 peers of a dual-stack socket read as plain IPv4; other addresses as 8 groups', () => {
    const entries = parseTcpTable(TCP6);
    expect(entries.map((e) => [e.local.ip, e.local.port, e.remote.ip, e.remote.port, e.state])).toEqual([
      ['0:0:0:0:0:0:0:0', 8080, '0:0:0:0:0:0:0:0', 0, TcpState.LISTEN],
      ['10.210.0.2', 8080, '10.210.0.1', 0x884e, TcpState.ESTABLISHED],
      ['10.210.0.2', 8080, '10.210.0.1', 0x884f, TcpState.TIME_WAIT],
      ['fe80:0:0:0:c4d3:1aff:fe05:b54e', 8080, 'fe80:0:0:0:c4d3:1aff:fe05:b54f', 0xd431, TcpState.ESTABLISHED],
    ]);
    expect(entries[2]).toMatchObject({ timer: 3, timerLeftMs: 59_790 });
  });

  test.each([
    ['the header', '  sl  local_address rem_address   st tx_queue'],
    ['an empty line', ''],
    ['a truncated line', '   4: 0200D20A:1F90 0100D20A:8C80 06'],
    ['a garbled address', '   4: 0200D20:1F90 0100D20A:8C80 06 00000000:00000000 03:0000175A 00000000 0 0 0 3 0'],
  ])('%s is skipped, never guessed', (_name, line) => {
    expect(parseTcpLine(line)).toBeUndefined();
  });
});

describe('counters', () => {
  const SNMP = `Ip: Forwarding DefaultTTL InReceives
Ip: 2 64 1226
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 3 212 0 0 2 1160 929 0 0 0 0
Udp: InDatagrams NoPorts
Udp: 0 0
`;
  test('PassiveOpens, ActiveOpens and CurrEstab from snmp, by name', () => {
    expect(parseTcpCounters(SNMP)).toEqual({ activeOpens: 3, passiveOpens: 212, currEstab: 2 });
  });
  test('a file without the Tcp lines is an error, not zeros', () => {
    expect(() => parseTcpCounters('Ip: a\nIp: 1\n')).toThrow(/Tcp/);
  });
  test('sockets in use per family, and TIME_WAIT sockets, from sockstat and sockstat6', () => {
    const parse = (text: string, family: 'TCP' | 'TCP6') => parseSockstat(Buffer.from(text), text.length, family);
    expect(parse('sockets: used 1\nTCP: inuse 3 orphan 0 tw 5 alloc 804 mem 234\nUDP: inuse 0 mem 0\n', 'TCP')).toEqual({ inUse: 3, timeWait: 5 });
    expect(parse('TCP6: inuse 1\nUDP6: inuse 0\n', 'TCP6')).toEqual({ inUse: 1, timeWait: 0 });
    expect(() => parse('UDP6: inuse 0\n', 'TCP6')).toThrow();
  });
  test.each([
    ['TCP inuse', 'sockets: used 1\nTCP: inuse 3 orphan 0 tw 5 alloc 804 mem 234\nUDP: inuse 0 mem 0\n', 'TCP', 'inuse', 3],
    ['TCP tw', 'sockets: used 1\nTCP: inuse 3 orphan 0 tw 51 alloc 804 mem 234\nUDP: inuse 0 mem 0\n', 'TCP', 'tw', 51],
    ['TCP6 inuse', 'TCP6: inuse 12\nUDP6: inuse 0\n', 'TCP6', 'inuse', 12],
    ['TCP6 has no tw', 'TCP6: inuse 12\nUDP6: inuse 0\n', 'TCP6', 'tw', -1],
    ['a line that only ends with the name is not it', 'MPTCP: inuse 7\nTCP: inuse 2 orphan 0 tw 0 alloc 1 mem 1\n', 'TCP', 'inuse', 2],
    ['no such line', 'UDP: inuse 0 mem 0\n', 'TCP', 'inuse', -1],
    ['the tw of another line is not this one\'s', 'TCP: inuse 2 orphan 0\nX: tw 9\n', 'TCP', 'tw', -1],
  ] as const)('sockstatFigure: %s', (_label, text, family, figure, expected) => {
    const bytes = Buffer.from(text, 'latin1');
    expect(sockstatFigure(bytes, bytes.length, family, figure)).toBe(expected);
  });
  test('sockstatFigure reads only the bytes of this read, not what an earlier, longer one left', () => {
    const buffer = Buffer.alloc(64, ' ');
    buffer.write('TCP: inuse 1234 orphan 0 tw 5');
    const length = buffer.write('TCP: inuse 9'); // a shorter read over the same buffer: "…inuse 934 orphan 0 tw 5" past it
    expect(sockstatFigure(buffer, length, 'TCP', 'inuse')).toBe(9);
    expect(sockstatFigure(buffer, length, 'TCP', 'tw')).toBe(-1);
  });
  test("TcpExt's TIME_WAIT counters added up, by name", () => {
    const netstat = 'TcpExt: SyncookiesSent ArpFilter TW TWRecycled TWKilled PAWSActive\nTcpExt: 0 0 97 2 1 0\nIpExt: InNoRoutes\nIpExt: 0\n';
    expect(parseTimeWaitEvents(netstat)).toBe(100);
    expect(() => parseTimeWaitEvents('TcpExt: SyncookiesSent\nTcpExt: 0\n')).toThrow(/TW/);
  });
});

describe('the node table, scanned in pieces for some remote addresses', () => {
  const wanted = new Set(['0100D20A', '0000000000000000FFFF00000100D20A']); // 10.210.0.1, as IPv4 and as mapped IPv6
  const whole = (text: string) => {
    const scanner = new TcpTableScanner(wanted);
    scanner.push(text);
    return scanner.end();
  };
  test.each([['IPv4', TCP4], ['IPv6', TCP6]])('%s: the lines toward those addresses, as parseTcpTable reads them', (_family, table) => {
    const expected = parseTcpTable(table).filter((e) => e.remote.ip === '10.210.0.1');
    expect(expected.length).toBeGreaterThan(0);
    expect(whole(table)).toEqual(expected);
  });
  test.each([['IPv4', TCP4], ['IPv6', TCP6]])('%s: the same wherever the reads split it, and without a final newline', (_family, table) => {
    const expected = whole(table);
    for (let cut = 0; cut <= table.length; cut++) {
      for (const second of [cut, Math.min(table.length, cut + 7)]) {
        const scanner = new TcpTableScanner(wanted);
        scanner.push(table.slice(0, cut));
        scanner.push(table.slice(cut, second));
        scanner.push(table.slice(second));
        expect(scanner.end()).toEqual(expected);
      }
    }
    expect(whole(table.slice(0, -1))).toEqual(expected);
  });
  test('a header alone, or nothing, holds no entry', () => {
    expect(whole(TCP4.slice(0, TCP4.indexOf('\n') + 1))).toEqual([]);
    expect(whole('')).toEqual([]);
  });
});

describe('local addresses', () => {
  const FIB = `Main:
  +-- 0.0.0.0/1 2 0 2
     +-- 0.0.0.0/4 2 0 2
        |-- 0.0.0.0
           /0 universe UNICAST
        +-- 10.210.0.0/24 2 0 2
           +-- 10.210.0.0/30 2 0 2
              |-- 10.210.0.0
                 /24 link UNICAST
              |-- 10.210.0.2
                 /32 host LOCAL
           |-- 10.210.0.255
                 /32 link BROADCAST
     +-- 127.0.0.0/8 2 0 2
        |-- 127.0.0.1
           /32 host LOCAL
`;
  const INET6 = `fe80000000000000c4d31afffe05b54e 06 40 20 80   i10x-h
fd000000000000000000000000000002 04 40 00 82     eth0
00000000000000000000000000000001 01 80 10 80       lo
`;
  test('LOCAL entries of fib_trie and every if_inet6 address, nothing else', () => {
    expect([...parseLocalAddresses(FIB, INET6)].sort()).toEqual(
      ['10.210.0.2', '127.0.0.1', '0:0:0:0:0:0:0:1', 'fd00:0:0:0:0:0:0:2', 'fe80:0:0:0:c4d3:1aff:fe05:b54e'].sort(),
    );
  });
});

describe('addresses as Kubernetes writes them', () => {
  test.each([
    ['10.244.0.7', '10.244.0.7'],
    ['fd00::2', 'fd00:0:0:0:0:0:0:2'],
    ['FD00:0:0::2', 'fd00:0:0:0:0:0:0:2'],
    ['::1', '0:0:0:0:0:0:0:1'],
    ['::ffff:10.0.0.1', '10.0.0.1'],
    ['2001:db8::10.0.0.1', '2001:db8:0:0:0:0:a00:1'],
  ])('%s → %s', (input, canonical) => {
    expect(canonicalIp(input)).toBe(canonical);
  });
  test('not an address', () => {
    expect(() => canonicalIp('fd00::zz')).toThrow();
  });
});

describe('Pod UID from a cgroup file', () => {
  const UID = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  test.each([
    ['cgroup v1, cgroupfs driver, burstable', `12:pids:/kubepods/burstable/pod${UID}/3f9a0c\n11:memory:/kubepods/burstable/pod${UID}/3f9a0c\n0::/\n`],
    ['cgroup v1, cgroupfs driver, guaranteed', `8:pids:/kubepods/pod${UID}/3f9a0c\n`],
    ['cgroup v1, the Pod cgroup itself', `8:pids:/kubepods/besteffort/pod${UID}\n`],
    ['systemd driver', `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-3f9a0c.scope\n`],
    ['systemd driver, guaranteed', `0::/kubepods.slice/kubepods-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-3f9a0c.scope\n`],
    ['cgroup v2 seen from inside a cgroup namespace', `0::/../../kubepods-besteffort-pod${UID.replaceAll('-', '_')}.slice/cri-containerd-3f9a0c.scope\n`],
    ['a nested test root', `8:pids:/spawner-test-ab12c/kubepods/besteffort/pod${UID}/c1\n`],
  ])('%s', (_name, text) => {
    expect(podUidOfCgroup(text)).toBe(UID);
  });
  test.each([
    ['a host process', '8:pids:/\n0::/init.scope\n'],
    ['a container outside any Pod', '0::/system.slice/containerd.service\n'],
    ['a look-alike segment', `8:pids:/kubepods/besteffort/xpod${UID}/c1\n`],
  ])('%s has none', (_name, text) => {
    expect(podUidOfCgroup(text)).toBeUndefined();
  });
});
