import { test, describe, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StreamInfo } from '../../src/api/stream-info.js';
import {
  AccessLogFormatError,
  DEFAULT_TCP_ACCESS_LOG_FORMAT,
  JsonFormatter,
  TextFormatter,
  compileFormat,
} from '../../src/common/access-log/substitution-format.js';
import { FileAccessLogger } from '../../src/common/access-log/file-access-logger.js';
import { StderrAccessLogger } from '../../src/common/access-log/stdout-access-logger.js';
import {
  accessLogFormatProblem,
  createAccessLogger,
  validateAccessLogFormat,
} from '../../src/common/access-log/access-log-config.js';

/** 2016-08-25T17:55:20.110Z */
const START = Date.UTC(2016, 7, 25, 17, 55, 20, 110);

function tcpInfo(over: Partial<StreamInfo> = {}): StreamInfo {
  return {
    startTimeMs: START,
    startMonoMs: 1000,
    endMonoMs: 1234.9,
    bytesReceived: 154,
    bytesSent: 226,
    downstreamRemoteAddress: '10.0.0.1:51234',
    downstreamLocalAddress: '127.0.0.1:10000',
    upstreamHost: '10.0.0.2:8080',
    upstreamLocalAddress: '10.0.0.3:40000',
    upstreamCluster: 'backend',
    responseFlags: new Set(),
    connectionTerminationDetails: undefined,
    ...over,
  };
}

/** Reads `path` until it holds `want` or `ms` pass; returns what it last read. */
async function readUntil(path: string, want: string, ms = 3000): Promise<string> {
  const deadline = Date.now() + ms;
  for (;;) {
    const got = await readFile(path, 'utf8').catch(() => '');
    if (got === want || Date.now() > deadline) return got;
    await new Promise((r) => setTimeout(r, 10));
  }
}

const fmt = (format: string, info: StreamInfo = tcpInfo()): string => new TextFormatter(format).format(info);

describe('text operators', () => {
  test('each operator prints what Envoy prints', () => {
    const info = tcpInfo({ responseFlags: new Set(['URX', 'UF']), connectionTerminationDetails: 'idle timeout' });
    const cases: [string, string][] = [
      ['%START_TIME%', '2016-08-25T17:55:20.110Z'],
      ['%DURATION%', '234'],
      ['%BYTES_RECEIVED%', '154'],
      ['%BYTES_SENT%', '226'],
      ['%UPSTREAM_HOST%', '10.0.0.2:8080'],
      ['%UPSTREAM_CLUSTER%', 'backend'],
      ['%UPSTREAM_LOCAL_ADDRESS%', '10.0.0.3:40000'],
      ['%DOWNSTREAM_REMOTE_ADDRESS%', '10.0.0.1:51234'],
      ['%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%', '10.0.0.1'],
      ['%DOWNSTREAM_REMOTE_PORT%', '51234'],
      ['%DOWNSTREAM_LOCAL_ADDRESS%', '127.0.0.1:10000'],
      ['%DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT%', '127.0.0.1'],
      ['%DOWNSTREAM_LOCAL_PORT%', '10000'],
      ['%RESPONSE_FLAGS%', 'UF,URX'],
      ['%RESPONSE_FLAGS_LONG%', 'UpstreamConnectionFailure,UpstreamRetryLimitExceeded'],
      ['%RESPONSE_CODE%', '0'],
      ['%PROTOCOL%', '-'],
      ['%CONNECTION_TERMINATION_DETAILS%', 'idle timeout'],
      ['%UPSTREAM_TRANSPORT_FAILURE_REASON%', '-'],
      ['%REQ(:METHOD)%', '-'],
      ['%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%', '-'],
      ['%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):10%', '-'],
      ['%REQUEST_DURATION%', '-'],
    ];
    for (const [format, want] of cases) assert.equal(fmt(format, info), want, format);
  });

  test('absent values print "-" and RESPONSE_CODE prints 0', () => {
    const info = tcpInfo({ upstreamHost: undefined, upstreamLocalAddress: undefined, upstreamCluster: undefined });
    assert.equal(
      fmt('%UPSTREAM_HOST% %UPSTREAM_LOCAL_ADDRESS% %UPSTREAM_CLUSTER% %RESPONSE_FLAGS% %RESPONSE_CODE% %CONNECTION_TERMINATION_DETAILS%', info),
      '- - - - 0 -',
    );
  });

  test('HTTP fields print when present', () => {
    assert.equal(fmt('%PROTOCOL% %RESPONSE_CODE%', tcpInfo({ protocol: 'HTTP/1.1', responseCode: 503 })), 'HTTP/1.1 503');
  });

  test('a running stream reports its duration so far', () => {
    const info = tcpInfo({ startMonoMs: performance.now() - 50, endMonoMs: undefined });
    const d = Number(fmt('%DURATION%', info));
    assert.ok(d >= 50 && d < 5000, String(d));
  });

  test('response flags follow Envoy order whatever the insertion order', () => {
    const info = tcpInfo({ responseFlags: new Set(['SI', 'DC', 'UH', 'NC', 'UO']) });
    assert.equal(fmt('%RESPONSE_FLAGS%', info), 'UH,UO,NC,DC,SI');
  });

  test('IPv6 addresses print as [addr]:port; WITHOUT_PORT prints the bare address', () => {
    for (const remote of ['[::1]:5555', '::1:5555']) {
      const info = tcpInfo({ downstreamRemoteAddress: remote, upstreamHost: '[2001:db8::7]:443' });
      assert.equal(
        fmt('%DOWNSTREAM_REMOTE_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT% %DOWNSTREAM_REMOTE_PORT% %UPSTREAM_HOST%', info),
        '[::1]:5555 ::1 5555 [2001:db8::7]:443',
      );
    }
  });

  test('"%%" is a literal percent', () => {
    assert.equal(fmt('100%% of %BYTES_SENT%%%'), '100% of 226%');
    assert.equal(fmt('%%DURATION%%'), '%DURATION%');
  });

  test('the default format for a TCP connection that failed with UF,URX', () => {
    const info = tcpInfo({ responseFlags: new Set(['UF', 'URX']), bytesReceived: 0, bytesSent: 0 });
    assert.equal(
      fmt(DEFAULT_TCP_ACCESS_LOG_FORMAT, info),
      '[2016-08-25T17:55:20.110Z] "- - -" 0 UF,URX 0 0 234 - "-" "-" "-" "-" "10.0.0.2:8080"\n',
    );
  });

  test('compiled once: parts are literals and closures', () => {
    const parts = compileFormat('a %DURATION% b %%');
    assert.equal(parts.length, 3);
    assert.equal(parts[0], 'a ');
    assert.equal(typeof parts[1], 'function');
    assert.equal(parts[2], ' b %');
  });

  test('omitEmptyValues prints absent values as empty', () => {
    const f = new TextFormatter('[%PROTOCOL%]', { omitEmptyValues: true });
    assert.equal(f.format(tcpInfo()), '[]');
  });
});

describe('format errors', () => {
  test('an unknown operator names the operator', () => {
    assert.throws(() => compileFormat('x %FOO% y'), { message: 'unknown access log operator %FOO%' });
    assert.throws(() => compileFormat('%duration%'), /unknown access log operator %duration%/);
    assert.equal(validateAccessLogFormat({ text: '[%START_TIME%] %FOO%\n' }), 'unknown access log operator %FOO%');
  });

  test('malformed operators are rejected at compile time', () => {
    assert.throws(() => compileFormat('100% sure'), /position 3.*%%/);
    assert.throws(() => compileFormat('%DURATION'), /not closed/);
    assert.throws(() => compileFormat('%DURATION(x)%'), /%DURATION% takes no parameters/);
    assert.throws(() => compileFormat('%DURATION:5%'), /%DURATION% takes no length/);
    assert.throws(() => compileFormat('%REQ%'), /%REQ% requires a parameter/);
    assert.throws(() => compileFormat('%REQ(A?B?C)%'), /more than one alternative/);
    assert.throws(() => compileFormat('%REQ(A):%'), /must be followed by a length/);
    assert.throws(() => compileFormat('%START_TIME(%Y'), /no closing/);
  });

  test('the errors are AccessLogFormatError', () => {
    assert.throws(() => compileFormat('%NOPE%'), AccessLogFormatError);
  });
});

describe('START_TIME', () => {
  const cases: [string, string][] = [
    ['%START_TIME(%Y/%m/%dT%H:%M:%S%z)%', '2016/08/25T17:55:20+0000'],
    ['%START_TIME(%s)%', '1472147720'],
    ['%START_TIME(%s.%3f)%', '1472147720.110'],
    ['%START_TIME(%E3S)%', '20.110'],
    ['%START_TIME(%E6S)%', '20.110000'],
    ['%START_TIME(%f)%', '110000000'],
    ['%START_TIME(%6f)%', '110000'],
    ['%START_TIME(%Y-%m-%dT%H:%M:%E3SZ)%', '2016-08-25T17:55:20.110Z'],
    ['%START_TIME(%F %T %%)%', '2016-08-25 17:55:20 %'],
    ['%START_TIME()%', '2016-08-25T17:55:20.110Z'],
  ];
  for (const [format, want] of cases) {
    test(format, () => assert.equal(fmt(format), want));
  }

  test('the per-second cache follows the clock', () => {
    const f = new TextFormatter('%START_TIME(%H:%M:%S.%3f)%');
    assert.equal(f.format(tcpInfo({ startTimeMs: START })), '17:55:20.110');
    assert.equal(f.format(tcpInfo({ startTimeMs: START + 5 })), '17:55:20.115');
    assert.equal(f.format(tcpInfo({ startTimeMs: START + 1000 })), '17:55:21.110');
    assert.equal(f.format(tcpInfo({ startTimeMs: START - 110 })), '17:55:20.000');
  });
});

describe('JSON format', () => {
  const shape = {
    start: '%START_TIME%',
    duration: '%DURATION%',
    bytes: { sent: '%BYTES_SENT%', received: '%BYTES_RECEIVED%' },
    code: '%RESPONSE_CODE%',
    flags: '%RESPONSE_FLAGS%',
    protocol: '%PROTOCOL%',
    upstream: '%UPSTREAM_HOST% via %UPSTREAM_CLUSTER%',
    port: '%DOWNSTREAM_LOCAL_PORT%',
    proto_missing_in_text: 'p=%PROTOCOL%',
    fixed: 7,
    literal: 'hello "world"',
    list: ['%BYTES_SENT%', 'x'],
    path: '%REQ(:PATH)%',
    ua: 'ua=%REQ(USER-AGENT)%',
  };

  test('one line of JSON per entry; single operators keep their type', () => {
    const line = new JsonFormatter(shape).format(tcpInfo({ responseFlags: new Set(['UF']) }));
    assert.ok(line.endsWith('\n'));
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.deepEqual(JSON.parse(line), {
      start: '2016-08-25T17:55:20.110Z',
      duration: 234,
      bytes: { sent: 226, received: 154 },
      code: 0,
      flags: 'UF',
      protocol: null,
      upstream: '10.0.0.2:8080 via backend',
      port: 10000,
      proto_missing_in_text: 'p=-',
      fixed: 7,
      literal: 'hello "world"',
      list: [226, 'x'],
      path: null,
      ua: 'ua=-',
    });
    // Keys are sorted, as Envoy prints them; numbers are bare.
    assert.match(line, /^\{"bytes":\{"received":154,"sent":226\},"code":0,"duration":234,"fixed":7,/);
  });

  test('omitEmptyValues drops null keys', () => {
    const line = new JsonFormatter({ p: '%PROTOCOL%', d: '%DURATION%', n: { q: '%REQ(X)%' } }, { omitEmptyValues: true }).format(tcpInfo());
    assert.equal(line, '{"d":234}\n');
  });

  test('errors name the key', () => {
    assert.equal(
      validateAccessLogFormat({ json: { a: { b: '%FOO%' } } }),
      'a.b: unknown access log operator %FOO%',
    );
    assert.deepEqual(accessLogFormatProblem({ json: { list: ['%DURATION%', '%BAR%'] } }), {
      path: 'list[1]',
      message: 'unknown access log operator %BAR%',
    });
    assert.match(validateAccessLogFormat({ json: { flag: true } }) ?? '', /^flag: Only string values/);
    assert.equal(validateAccessLogFormat({ json: shape }), undefined);
  });
});

describe('file access logger', () => {
  const info = tcpInfo();

  test('lines are appended to the file and appear after close()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'courier-al-'));
    try {
      const path = join(dir, 'access.log');
      await writeFile(path, 'existing\n');
      const logger = new FileAccessLogger(path, new TextFormatter('%BYTES_SENT% %UPSTREAM_HOST%\n'));
      logger.log(info);
      logger.log(tcpInfo({ bytesSent: 1, upstreamHost: undefined }));
      await logger.close();
      assert.equal(await readFile(path, 'utf8'), 'existing\n226 10.0.0.2:8080\n1 -\n');
      assert.equal(logger.writtenLines, 2);
      assert.equal(logger.writeErrors, 0);
      logger.log(info); // after close: dropped, no throw
      await logger.close();
      assert.equal(logger.droppedLines, 1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('buffered lines are flushed by the interval without close()', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'courier-al-'));
    try {
      const path = join(dir, 'access.log');
      const logger = createAccessLogger({ kind: 'file', path, format: { json: { d: '%DURATION%' } } }, { flushIntervalMs: 300 });
      logger.log(info);
      // Buffered, not yet written (the file may not even be open yet).
      assert.equal(await readFile(path, 'utf8').catch(() => ''), '');
      assert.equal(await readUntil(path, '{"d":234}\n'), '{"d":234}\n');
      await logger.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a full buffer is written at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'courier-al-'));
    try {
      const path = join(dir, 'access.log');
      const logger = new FileAccessLogger(path, new TextFormatter('%BYTES_SENT%\n'), { flushBytes: 8, flushIntervalMs: 60_000 });
      for (let i = 0; i < 5; i++) logger.log(info);
      const want = '226\n226\n226\n226\n226\n';
      assert.equal(await readUntil(path, want), want);
      await logger.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('reopen() starts a new file after rotation', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'courier-al-'));
    try {
      const path = join(dir, 'access.log');
      const logger = new FileAccessLogger(path, new TextFormatter('%BYTES_SENT%\n'));
      logger.log(info);
      await logger.flush();
      await rename(path, `${path}.1`);
      logger.reopen();
      logger.log(tcpInfo({ bytesSent: 7 }));
      await logger.close();
      assert.equal(await readFile(`${path}.1`, 'utf8'), '226\n');
      assert.equal(await readFile(path, 'utf8'), '7\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a write error is reported once and counted, never thrown', async (t) => {
    const errors: unknown[] = [];
    t.mock.method(console, 'error', (...args: unknown[]) => void errors.push(args));
    const logger = new FileAccessLogger('/nonexistent-dir-courier/x/access.log', new TextFormatter('%DURATION%\n'), {
      flushIntervalMs: 5,
    });
    logger.log(info);
    await logger.flush();
    logger.log(info);
    await logger.flush();
    await logger.close();
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as unknown[])[0]), /access log \/nonexistent-dir-courier\/x\/access\.log: write failed/);
    assert.equal(logger.writeErrors, 2);
    assert.equal(logger.droppedLines, 2);
  });
});

/**
 * Captures the string writes our loggers make to a process stream. The test runner reports
 * through the same stream with Buffers, so those pass through to the real write.
 */
function captureStream(t: TestContext, stream: NodeJS.WriteStream): { text: () => string } {
  let captured = '';
  const real = stream.write.bind(stream) as (...a: unknown[]) => boolean;
  t.mock.method(stream, 'write', (chunk: unknown, ...rest: unknown[]) => {
    if (typeof chunk !== 'string') return real(chunk, ...rest);
    captured += chunk;
    const cb = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
    if (cb) process.nextTick(cb);
    return true;
  });
  return { text: () => captured };
}

describe('stdout / stderr access loggers', () => {
  test('stderr logger writes formatted lines to process.stderr', async (t) => {
    const cap = captureStream(t, process.stderr);
    const logger = new StderrAccessLogger(new TextFormatter('[%UPSTREAM_CLUSTER%] %RESPONSE_FLAGS%\n'));
    logger.log(tcpInfo({ responseFlags: new Set(['UH']) }));
    logger.log(tcpInfo());
    await logger.close();
    t.mock.restoreAll();
    assert.equal(cap.text(), '[backend] UH\n[backend] -\n');
  });

  test('/dev/stdout as a file path writes to process.stdout', async (t) => {
    const cap = captureStream(t, process.stdout);
    const logger = createAccessLogger({ kind: 'file', path: '/dev/stdout', format: { text: 'x=%BYTES_RECEIVED%\n' } });
    logger.log(tcpInfo());
    await logger.close();
    t.mock.restoreAll();
    assert.equal(cap.text(), 'x=154\n');
  });
});
