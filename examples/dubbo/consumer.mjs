#!/usr/bin/env node
// A Dubbo consumer for the walkthrough: apache-dubbo-consumer (the npm package of apache/dubbo-js)
// connected straight to ADDRESS, no registry, through the same wrapper Courier's tests use
// (test/support/dubbo-peers.ts; `npm run build` compiles it to dist/).
//   node examples/dubbo/consumer.mjs 127.0.0.1:20880 sayHello world
//   node examples/dubbo/consumer.mjs 127.0.0.1:20880 whoami
// calls org.apache.dubbo.demo.DemoService's METHOD with the string arguments and prints the
// result; exit code 1 and the error on stderr when the call fails.
import { createConsumer, DEMO_SERVICE, java } from '../../dist/test/support/dubbo-peers.js';

const [address, method, ...args] = process.argv.slice(2);
if (!address || !method) {
  console.error('usage: node examples/dubbo/consumer.mjs HOST:PORT METHOD [STRING_ARG...]');
  process.exit(2);
}
const consumer = createConsumer(address, { timeoutMs: 5000 });
const { res, err } = await consumer.call(DEMO_SERVICE, method, args.map((a) => java.String(a)));
consumer.close();
if (err) {
  console.error(`${DEMO_SERVICE}.${method} failed: ${err.message}`);
  process.exit(1);
}
console.log(typeof res === 'string' ? res : JSON.stringify(res));
process.exit(0);
