#!/usr/bin/env node
// The package's executable: runs the compiled CLI (npm run build writes dist/).
import('../dist/src/main.js').then((m) => m.main(process.argv.slice(2)));
