/**
 * Config regexes are RE2 and match in linear time (issue 9, point 6). Patterns that are valid
 * RE2 but make a backtracking engine take exponential time (`([a-z]+)*[0-9]` against a run of
 * letters with no digit) are matched against hostile paths, headers and query parameters on
 * real HTTP requests through the real `courier` command with one worker process, while another
 * client asks for an unrelated route; and the same kind of pattern is given to the admin's
 * `/stats?filter=` on main. Each request must be answered. With V8's backtracking RegExp a
 * 40-letter path kept the worker busy for hours, so nothing else was answered either.
 *
 * The 20 s client deadline only turns a hang into a failure; nothing here asserts a duration.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { startCourier, tmpDir, type CourierHandle } from '../support/courier-harness.js';
import { hcmHeadYaml } from '../support/configs.js';

/** Valid RE2; exponential for a backtracking engine on letters without a digit. */
const PATHOLOGICAL = '([a-z]+)*[0-9]';
const HOSTILE = 'a'.repeat(40) + '!';
const NO_ANSWER_MS = 20_000;

function yaml(logPath: string): string {
  const body = (text: string, status = 200) => `direct_response: { status: ${status}, body: { inline_string: "${text}" } }`;
  return `${hcmHeadYaml('redos', logPath, '%REQ(:PATH)% %RESPONSE_CODE%\n')}
            name: routes
            virtual_hosts:
            - name: main
              domains: ["*"]
              routes:
              - match: { safe_regex: { google_re2: {}, regex: "/re/${PATHOLOGICAL}" } }
                ${body('path')}
              - match:
                  prefix: "/hdr"
                  headers: [{ name: x-token, string_match: { safe_regex: { regex: "${PATHOLOGICAL}" } } }]
                ${body('header')}
              - match:
                  prefix: "/legacy"
                  headers: [{ name: x-token, safe_regex_match: { regex: "${PATHOLOGICAL}" } }]
                ${body('legacy header')}
              - match:
                  prefix: "/q"
                  query_parameters: [{ name: id, string_match: { safe_regex: { regex: "${PATHOLOGICAL}" } } }]
                ${body('query')}
              - match: { prefix: "/ok" }
                ${body('ok')}
              - match: { prefix: "/" }
                ${body('none', 404)}
`;
}

function get(port: number, pathAndQuery: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathAndQuery, headers, agent: false, signal: AbortSignal.timeout(NO_ANSWER_MS) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', (e) => reject(new Error(`${pathAndQuery}: no answer (${e.message})`)));
    req.end();
  });
}

let courier: CourierHandle;
let port: number;

before(async () => {
  courier = await startCourier(yaml(path.join(tmpDir(), 'access.log')), { processes: 1 });
  port = await courier.listenerPort('http');
});

/** Linux: the PIDs of a process's children (the worker processes of `courier`). */
function childPids(pid: number | undefined): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

after(async () => {
  // A process stuck in a regex (as before RE2) cannot run its SIGTERM handler, and a stuck
  // worker does not notice its main is gone: kill them by PID rather than wait forever.
  const workers = childPids(courier.child?.pid);
  const killer = setTimeout(() => {
    courier.child?.kill('SIGKILL');
    for (const pid of workers) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }, 5000);
  await courier.stop();
  clearTimeout(killer);
});

test('the regex routes match what they should', async () => {
  assert.deepEqual(await get(port, '/re/abc7'), { status: 200, body: 'path' });
  assert.deepEqual(await get(port, '/hdr', { 'x-token': 'abc1' }), { status: 200, body: 'header' });
  assert.deepEqual(await get(port, '/legacy', { 'x-token': 'abc1' }), { status: 200, body: 'legacy header' });
  assert.deepEqual(await get(port, '/q?id=abc1'), { status: 200, body: 'query' });
  assert.deepEqual(await get(port, '/re/abc'), { status: 404, body: 'none' });
});

test('hostile paths, headers and query values are answered, and so is everyone else', { timeout: 60_000 }, async () => {
  const answers = await Promise.all([
    get(port, `/re/${HOSTILE}`),
    get(port, '/hdr', { 'x-token': HOSTILE }),
    get(port, '/legacy', { 'x-token': HOSTILE }),
    get(port, `/q?id=${HOSTILE}`),
    get(port, '/ok'),
  ]);
  assert.deepEqual(
    answers.map((a) => a.body),
    ['none', 'none', 'none', 'none', 'ok'],
  );
  // The worker is still there and free.
  assert.deepEqual(await get(port, '/ok'), { status: 200, body: 'ok' });
});

test('a ReDoS pattern in /stats?filter= is answered, and main keeps serving', { timeout: 60_000 }, async () => {
  const filter = encodeURIComponent('^([a-z_.]+)*!$');
  const r = await get(courier.adminPort, `/stats?filter=${filter}`);
  assert.equal(r.status, 200);
  assert.equal(r.body, '', 'no stat name ends in "!"');
  const named = await get(courier.adminPort, `/stats?filter=${encodeURIComponent('^http\\.redos\\.downstream_rq_total$')}`);
  assert.match(named.body, /^http\.redos\.downstream_rq_total: \d+\n$/);
});

test('/stats?filter= refuses what RE2 refuses', async () => {
  const r = await get(courier.adminPort, `/stats?filter=${encodeURIComponent('(?=x)')}`);
  assert.equal(r.status, 400);
  assert.match(r.body, /^Invalid re2 regex: look-around/);
});
