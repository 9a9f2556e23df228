import { test } from 'node:test';
import assert from 'node:assert/strict';

import type {
  HostDescription,
  HostLoad,
  LbPolicyConfig,
  LoadBalancer,
} from '../../src/api/load-balancer.js';
import { EdfScheduler } from '../../src/common/upstream/edf-scheduler.js';
import { hashBuffer, hashString, murmur3 } from '../../src/common/upstream/hash.js';
import {
  SUPPORTED_LB_POLICIES,
  createLoadBalancer,
  isSupportedLbPolicy,
  validateLbPolicyConfig,
} from '../../src/common/upstream/load-balancer.js';
import { RoundRobinLoadBalancer } from '../../src/common/upstream/load-balancer-round-robin.js';
import { LeastRequestLoadBalancer } from '../../src/common/upstream/load-balancer-least-request.js';
import { RandomLoadBalancer } from '../../src/common/upstream/load-balancer-random.js';
import { RingHashLoadBalancer } from '../../src/common/upstream/load-balancer-ring-hash.js';
import { MaglevLoadBalancer, isPrime } from '../../src/common/upstream/load-balancer-maglev.js';

function host(address: string, weight = 1): HostDescription {
  const i = address.lastIndexOf(':');
  const ip = address.slice(0, i);
  return { address, host: ip, port: Number(address.slice(i + 1)), weight, hostname: ip };
}

const FOUR = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'].map((a) => host(a));
const idle: HostLoad = { activeRequests: () => 0 };

function loadOf(active: Record<string, number>): HostLoad {
  return { activeRequests: (h) => active[h.address] ?? 0 };
}

/** Small seeded PRNG so key sets are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomKeys(count: number, seed = 42): number[] {
  const rnd = seeded(seed);
  return Array.from({ length: count }, () => (rnd() * 4294967296) >>> 0);
}

function tally(lb: LoadBalancer, picks: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < picks; i++) {
    const h = lb.chooseHost(undefined)!;
    counts.set(h.address, (counts.get(h.address) ?? 0) + 1);
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// hash

test('hash: murmur3 x86_32 matches published test vectors', () => {
  const vectors: [string, number, number][] = [
    ['', 0, 0],
    ['', 1, 0x514e28b7],
    ['', 0xffffffff, 0x81f16f39],
    ['\0\0\0\0', 0, 0x2362f9de],
    ['abc', 0, 0xb3dd93fa],
    ['aaaa', 0x9747b28c, 0x5a97808a],
    ['hello', 0, 0x248bfa47],
    ['Hello, world!', 0x9747b28c, 0x24884cba],
    ['The quick brown fox jumps over the lazy dog', 0x9747b28c, 0x2fa826cd],
  ];
  for (const [input, seed, expected] of vectors) {
    assert.equal(hashString(input, seed), expected, `murmur3(${JSON.stringify(input)}, ${seed})`);
  }
});

test('hash: string and buffer forms agree, including non-ASCII and long inputs', () => {
  for (const s of ['10.1.2.3', '2001:db8::1', 'héllo wörld ✓', 'x'.repeat(5000)]) {
    assert.equal(hashString(s), hashBuffer(Buffer.from(s, 'utf8')));
    const h = hashString(s, 7);
    assert.ok(Number.isInteger(h) && h >= 0 && h <= 0xffffffff);
  }
  const packed = Buffer.from([10, 0, 0, 1]);
  assert.equal(murmur3(Buffer.from([0xff, 10, 0, 0, 1, 0xff]), 0, 1, 5), hashBuffer(packed));
  assert.notEqual(hashString('10.0.0.1'), hashString('10.0.0.2'));
});

// ---------------------------------------------------------------------------------------------
// registry

test('registry: lists the five Envoy policies and builds each one', () => {
  assert.deepEqual([...SUPPORTED_LB_POLICIES].sort(), [
    'LEAST_REQUEST',
    'MAGLEV',
    'RANDOM',
    'RING_HASH',
    'ROUND_ROBIN',
  ]);
  assert.ok(isSupportedLbPolicy('MAGLEV'));
  assert.ok(!isSupportedLbPolicy('CLUSTER_PROVIDED'));
  for (const policy of SUPPORTED_LB_POLICIES) {
    const lb = createLoadBalancer(FOUR, { policy }, idle);
    for (let i = 0; i < 20; i++) {
      assert.ok(FOUR.includes(lb.chooseHost(undefined)!), policy);
      assert.ok(FOUR.includes(lb.chooseHost({ hashKey: i * 7919 })!), policy);
    }
  }
});

test('registry: an empty host set yields undefined from every policy', () => {
  for (const policy of SUPPORTED_LB_POLICIES) {
    const lb = createLoadBalancer([], { policy }, idle);
    assert.equal(lb.chooseHost(undefined), undefined, policy);
    assert.equal(lb.chooseHost({}), undefined, policy);
    assert.equal(lb.chooseHost({ hashKey: 12345 }), undefined, policy);
  }
});

test('registry: rejects unknown policies and invalid settings with clear errors', () => {
  const bogus = { policy: 'CLUSTER_PROVIDED' } as unknown as LbPolicyConfig;
  assert.throws(() => createLoadBalancer(FOUR, bogus, idle), /unsupported lb_policy CLUSTER_PROVIDED/);
  assert.throws(() => validateLbPolicyConfig(bogus), /unsupported lb_policy/);
  assert.throws(
    () => validateLbPolicyConfig({ policy: 'MAGLEV', tableSize: 65536 }),
    /maglev: table_size must be a prime number, got 65536/,
  );
  assert.throws(
    () => validateLbPolicyConfig({ policy: 'RING_HASH', minimumRingSize: 4096, maximumRingSize: 1024 }),
    /minimum_ring_size \(4096\) > maximum_ring_size \(1024\)/,
  );
  assert.throws(
    () => validateLbPolicyConfig({ policy: 'LEAST_REQUEST', choiceCount: 1 }),
    /choice_count must be an integer >= 2/,
  );
  validateLbPolicyConfig({ policy: 'MAGLEV', tableSize: 5000011 });
  validateLbPolicyConfig({ policy: 'ROUND_ROBIN' });
});

// ---------------------------------------------------------------------------------------------
// EDF scheduler

test('edf scheduler: weights 1:2:3 give exactly 1, 2 and 3 picks in every window of 6', () => {
  const weights = [1, 2, 3];
  const schedule = new EdfScheduler(weights.length);
  weights.forEach((w, i) => schedule.add(i, w));
  const picks = Array.from({ length: 600 }, () => schedule.pick());
  for (let start = 0; start + 6 <= picks.length; start++) {
    const counts = [0, 0, 0];
    for (const i of picks.slice(start, start + 6)) counts[i]!++;
    assert.deepEqual(counts, weights, `window at ${start}`);
  }
});

// ---------------------------------------------------------------------------------------------
// ROUND_ROBIN

test('round robin: 3 equal hosts, every cycle of 3 picks visits each host once', () => {
  const hosts = FOUR.slice(0, 3);
  const lb = createLoadBalancer(hosts, { policy: 'ROUND_ROBIN' }, idle);
  const first = lb.chooseHost(undefined)!;
  lb.chooseHost(undefined);
  lb.chooseHost(undefined);
  for (let cycle = 0; cycle < 10; cycle++) {
    const seen = new Set([lb.chooseHost(undefined), lb.chooseHost(undefined), lb.chooseHost(undefined)]);
    assert.equal(seen.size, 3);
  }
  assert.ok(hosts.includes(first));
});

test('round robin: start index is random per instance', () => {
  const hosts = FOUR.slice(0, 3);
  assert.equal(new RoundRobinLoadBalancer(hosts, { random: () => 0 }).chooseHost(undefined), hosts[0]);
  assert.equal(new RoundRobinLoadBalancer(hosts, { random: () => 0.5 }).chooseHost(undefined), hosts[1]);
  assert.equal(new RoundRobinLoadBalancer(hosts, { random: () => 0.99 }).chooseHost(undefined), hosts[2]);
  const firsts = new Set<HostDescription | undefined>();
  for (let i = 0; i < 60; i++) {
    firsts.add(createLoadBalancer(hosts, { policy: 'ROUND_ROBIN' }, idle).chooseHost(undefined));
  }
  assert.ok(firsts.size > 1, 'every instance started at the same host');
});

test('round robin: weights 1:3 give exactly 25%/75% over 4000 picks, interleaved', () => {
  const a = host('10.0.0.1:80', 1);
  const b = host('10.0.0.2:80', 3);
  const counts = tally(createLoadBalancer([a, b], { policy: 'ROUND_ROBIN' }, idle), 4000);
  assert.equal(counts.get(a.address), 1000);
  assert.equal(counts.get(b.address), 3000);

  // Exact per cycle from any starting phase: every 4 consecutive picks hold exactly one `a`.
  for (let phase = 0; phase < 1; phase += 0.05) {
    const lb = new RoundRobinLoadBalancer([a, b], { random: () => phase });
    const seq = Array.from({ length: 400 }, () => lb.chooseHost(undefined));
    for (let i = 0; i + 4 <= seq.length; i++) {
      assert.equal(seq.slice(i, i + 4).filter((h) => h === a).length, 1, `phase ${phase} at ${i}`);
    }
  }
});

test('round robin: uneven weights 2:3:5 are exact over each cycle of 10', () => {
  const hosts = [host('10.0.0.1:80', 2), host('10.0.0.2:80', 3), host('10.0.0.3:80', 5)];
  for (let trial = 0; trial < 20; trial++) {
    const lb = createLoadBalancer(hosts, { policy: 'ROUND_ROBIN' }, idle);
    for (let cycle = 0; cycle < 5; cycle++) {
      const counts = tally(lb, 10);
      assert.deepEqual(
        hosts.map((h) => counts.get(h.address)),
        [2, 3, 5],
      );
    }
  }
});

// ---------------------------------------------------------------------------------------------
// LEAST_REQUEST

test('least request: with 2 hosts and choice_count 2 the less loaded host is always chosen', () => {
  const [a, b] = FOUR;
  const lb = createLoadBalancer([a!, b!], { policy: 'LEAST_REQUEST', choiceCount: 2 }, loadOf({ [a!.address]: 5 }));
  for (let i = 0; i < 1000; i++) assert.equal(lb.chooseHost(undefined), b);
});

test('least request: equally idle hosts share the traffic', () => {
  const lb = createLoadBalancer(FOUR.slice(0, 2), { policy: 'LEAST_REQUEST' }, idle);
  const counts = tally(lb, 2000);
  for (const h of FOUR.slice(0, 2)) assert.ok(counts.get(h.address)! > 800, h.address);
});

test('least request: power of two choices favours the idle host among many loaded ones', () => {
  const hosts = Array.from({ length: 10 }, (_, i) => host(`10.0.1.${i}:80`));
  const active: Record<string, number> = {};
  for (const h of hosts.slice(1)) active[h.address] = 10;
  const lb = createLoadBalancer(hosts, { policy: 'LEAST_REQUEST' }, loadOf(active));
  const counts = tally(lb, 10000);
  // Uniform would be 10%; two samples find the idle host 1 - 0.9^2 = 19% of the time.
  const share = counts.get(hosts[0]!.address)! / 10000;
  assert.ok(share > 0.16 && share < 0.22, `idle host share ${share}`);
});

test('least request: outstanding requests stay balanced as load accumulates', () => {
  const hosts = FOUR;
  const active: Record<string, number> = {};
  const lb = createLoadBalancer(hosts, { policy: 'LEAST_REQUEST', choiceCount: 4 }, loadOf(active));
  for (let i = 0; i < 400; i++) {
    const h = lb.chooseHost(undefined)!;
    active[h.address] = (active[h.address] ?? 0) + 1;
  }
  // choice_count >= hosts: a full scan, so the pile is perfectly level.
  for (const h of hosts) assert.equal(active[h.address], 100);
});

test('least request: unequal weights follow weight / (active + 1)', () => {
  const light = host('10.0.0.1:80', 1);
  const heavy = host('10.0.0.2:80', 3);
  const unloaded = tally(createLoadBalancer([light, heavy], { policy: 'LEAST_REQUEST' }, idle), 4000);
  assert.ok(Math.abs(unloaded.get(heavy.address)! / 4000 - 0.75) < 0.01);

  // heavy busy with 8: effective 3/9 against light's 1/1, so light now gets ~3/4.
  const busy = loadOf({ [heavy.address]: 8 });
  const loaded = tally(new LeastRequestLoadBalancer([light, heavy], busy), 4000);
  assert.ok(Math.abs(loaded.get(light.address)! / 4000 - 0.75) < 0.01, String(loaded.get(light.address)));

  // active_request_bias 0 ignores load entirely.
  const noBias = tally(new LeastRequestLoadBalancer([light, heavy], busy, { activeRequestBias: 0 }), 4000);
  assert.ok(Math.abs(noBias.get(heavy.address)! / 4000 - 0.75) < 0.01);
});

// ---------------------------------------------------------------------------------------------
// RANDOM

test('random: weights 1:3 give 25%/75% within 3% over 4000 picks', () => {
  const a = host('10.0.0.1:80', 1);
  const b = host('10.0.0.2:80', 3);
  const counts = tally(createLoadBalancer([a, b], { policy: 'RANDOM' }, idle), 4000);
  assert.ok(Math.abs(counts.get(a.address)! / 4000 - 0.25) <= 0.03, String(counts.get(a.address)));
  assert.ok(Math.abs(counts.get(b.address)! / 4000 - 0.75) <= 0.03, String(counts.get(b.address)));
});

test('random: equal weights reach every host, edge random values stay in range', () => {
  const counts = tally(createLoadBalancer(FOUR, { policy: 'RANDOM' }, idle), 4000);
  for (const h of FOUR) assert.ok(counts.get(h.address)! > 800, h.address);
  const weighted = [host('10.0.0.1:80', 1), host('10.0.0.2:80', 3)];
  assert.equal(new RandomLoadBalancer(weighted, { random: () => 0 }).chooseHost(undefined), weighted[0]);
  assert.equal(new RandomLoadBalancer(weighted, { random: () => 0.999999 }).chooseHost(undefined), weighted[1]);
  assert.equal(new RandomLoadBalancer(FOUR, { random: () => 0.999999 }).chooseHost(undefined), FOUR[3]);
});

// ---------------------------------------------------------------------------------------------
// RING_HASH and MAGLEV (shared expectations)

const hashPolicies = [
  { name: 'ring hash', config: { policy: 'RING_HASH' } as LbPolicyConfig },
  { name: 'maglev', config: { policy: 'MAGLEV' } as LbPolicyConfig },
];

for (const { name, config } of hashPolicies) {
  test(`${name}: the same key always maps to the same host, whatever the host order`, () => {
    const lb = createLoadBalancer(FOUR, config, idle);
    const shuffled = createLoadBalancer([FOUR[2]!, FOUR[0]!, FOUR[3]!, FOUR[1]!], config, idle);
    for (const key of randomKeys(2000)) {
      const h = lb.chooseHost({ hashKey: key });
      assert.equal(lb.chooseHost({ hashKey: key }), h);
      assert.equal(shuffled.chooseHost({ hashKey: key }), h);
    }
    // Source-ip style keys, and the edge keys.
    const k = hashString('192.168.7.21');
    assert.equal(lb.chooseHost({ hashKey: k }), lb.chooseHost({ hashKey: k }));
    assert.ok(FOUR.includes(lb.chooseHost({ hashKey: 0 })!));
    assert.ok(FOUR.includes(lb.chooseHost({ hashKey: 0xffffffff })!));
  });

  test(`${name}: 4 equal hosts each get 25% ± 15% of 10000 random keys`, () => {
    const lb = createLoadBalancer(FOUR, config, idle);
    const counts = new Map<string, number>();
    for (const key of randomKeys(10000, 7)) {
      const a = lb.chooseHost({ hashKey: key })!.address;
      counts.set(a, (counts.get(a) ?? 0) + 1);
    }
    for (const h of FOUR) {
      const c = counts.get(h.address) ?? 0;
      assert.ok(c >= 2500 * 0.85 && c <= 2500 * 1.15, `${h.address}: ${c}`);
    }
  });

  test(`${name}: without a hash key a host is still returned`, () => {
    const lb = createLoadBalancer(FOUR, config, idle);
    const seen = new Set<HostDescription | undefined>();
    for (let i = 0; i < 200; i++) {
      seen.add(lb.chooseHost(undefined));
      seen.add(lb.chooseHost({}));
    }
    assert.ok([...seen].every((h) => h !== undefined && FOUR.includes(h)));
    assert.equal(seen.size, 4);
  });

  test(`${name}: keys of a removed host move to the survivors`, () => {
    const before = createLoadBalancer(FOUR, config, idle);
    const removed = FOUR[1]!;
    const after = createLoadBalancer(FOUR.filter((h) => h !== removed), config, idle);
    const landedOn = new Set<string>();
    for (const key of randomKeys(10000, 3)) {
      if (before.chooseHost({ hashKey: key }) !== removed) continue;
      const now = after.chooseHost({ hashKey: key })!;
      assert.notEqual(now, removed);
      landedOn.add(now.address);
    }
    assert.equal(landedOn.size, 3, 'the removed host\'s keys spread over all survivors');
  });
}

function survivorsKept(lbBefore: LoadBalancer, lbAfter: LoadBalancer, removed: HostDescription): number {
  let kept = 0;
  let total = 0;
  for (const key of randomKeys(20000, 11)) {
    const was = lbBefore.chooseHost({ hashKey: key });
    if (was === removed) continue;
    total++;
    if (lbAfter.chooseHost({ hashKey: key }) === was) kept++;
  }
  return kept / total;
}

test('maglev: removing one of 4 hosts leaves (almost) every other key in place', () => {
  const removed = FOUR[1]!;
  const kept = survivorsKept(
    new MaglevLoadBalancer(FOUR),
    new MaglevLoadBalancer(FOUR.filter((h) => h !== removed)),
    removed,
  );
  assert.ok(kept > 0.99, `kept ${kept}`);
});

test('ring hash: removing a host moves exactly its keys when per-host point counts are unchanged', () => {
  // Points per host = ceil(minimum_ring_size / hosts) for equal weights: 3 for both 4 and 3 hosts
  // here, so the survivors' points are identical and nothing but the removed host's keys moves.
  const removed = FOUR[1]!;
  const options = { minimumRingSize: 9 };
  const before = new RingHashLoadBalancer(FOUR, options);
  const after = new RingHashLoadBalancer(FOUR.filter((h) => h !== removed), options);
  assert.equal(before.maxHashesPerHost, after.maxHashesPerHost);
  assert.equal(survivorsKept(before, after, removed), 1);
});

test('ring hash: with the default ring size, survivors keep the large majority of their keys', () => {
  // Envoy sizes the ring for the host set: 4 hosts x 256 points, 3 hosts x 342. The survivors'
  // 86 extra points each take a little from their neighbours, so this is not 100%.
  const removed = FOUR[1]!;
  const kept = survivorsKept(
    new RingHashLoadBalancer(FOUR),
    new RingHashLoadBalancer(FOUR.filter((h) => h !== removed)),
    removed,
  );
  assert.ok(kept > 0.8, `kept ${kept}`);
});

test('ring hash: ring size follows minimum/maximum_ring_size and weights', () => {
  const even = new RingHashLoadBalancer(FOUR);
  assert.equal(even.size, 1024);
  assert.equal(even.minHashesPerHost, 256);
  assert.equal(even.maxHashesPerHost, 256);

  // Lightest host holds 1/3 of the weight: ceil(1024 / 3) = 342 points, the other 684.
  const weighted = new RingHashLoadBalancer([host('10.0.0.1:80', 1), host('10.0.0.2:80', 2)]);
  assert.equal(weighted.size, 1026);
  assert.equal(weighted.minHashesPerHost, 342);
  assert.equal(weighted.maxHashesPerHost, 684);

  const capped = new RingHashLoadBalancer(FOUR, { minimumRingSize: 64, maximumRingSize: 100 });
  assert.equal(capped.size, 64);
  const tight = new RingHashLoadBalancer([host('10.0.0.1:80', 1), host('10.0.0.2:80', 1000)], {
    maximumRingSize: 2000,
  });
  assert.equal(tight.size, 2000);
  assert.ok(tight.minHashesPerHost >= 1);

  assert.throws(() => new RingHashLoadBalancer(FOUR, { minimumRingSize: 0 }), /minimum_ring_size/);
  assert.throws(() => new RingHashLoadBalancer(FOUR, { maximumRingSize: 2 ** 24 }), /maximum_ring_size/);
});

test('ring hash and maglev: weights 1:3 split keys roughly 25/75', () => {
  const hosts = [host('10.0.0.1:80', 1), host('10.0.0.2:80', 3)];
  for (const config of hashPolicies.map((p) => p.config)) {
    const lb = createLoadBalancer(hosts, config, idle);
    let heavy = 0;
    for (const key of randomKeys(10000, 5)) if (lb.chooseHost({ hashKey: key }) === hosts[1]) heavy++;
    assert.ok(Math.abs(heavy / 10000 - 0.75) < 0.05, `${config.policy}: ${heavy}`);
  }
});

test('maglev: table size must be prime; entries follow weights', () => {
  assert.throws(() => new MaglevLoadBalancer(FOUR, { tableSize: 65536 }), /table_size must be a prime number, got 65536/);
  assert.throws(() => createLoadBalancer(FOUR, { policy: 'MAGLEV', tableSize: 1000 }, idle), /prime/);
  assert.throws(() => createLoadBalancer([], { policy: 'MAGLEV', tableSize: 9 }, idle), /prime/);
  assert.throws(() => new MaglevLoadBalancer(FOUR, { tableSize: 5000023 }), /between 2 and 5000011/);
  assert.ok(isPrime(65537) && isPrime(7) && !isPrime(1) && !isPrime(91));

  const small = new MaglevLoadBalancer(FOUR, { tableSize: 7 });
  assert.equal(small.tableSize, 7);
  assert.ok(FOUR.includes(small.chooseHost({ hashKey: 123456 })!));

  const lb = new MaglevLoadBalancer(FOUR);
  assert.equal(lb.tableSize, 65537);
  assert.ok(lb.maxEntriesPerHost - lb.minEntriesPerHost <= 1);

  const weighted = new MaglevLoadBalancer([host('10.0.0.1:80', 1), host('10.0.0.2:80', 3)]);
  assert.ok(Math.abs(weighted.maxEntriesPerHost / weighted.minEntriesPerHost - 3) < 0.01);
});
