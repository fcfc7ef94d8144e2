#!/usr/bin/env node
// The `cdistill` command as npm links it (npx cdistill, npm link, a global install). It is committed,
// unlike the compiled code it loads, so npm can link it before anything is built; when the build is
// missing it says how to make it instead of failing with a module-not-found trace.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    `cdistill: the TypeScript is not built yet (${cli.pathname} is missing): run \`npm run build\` in the repository\n`,
  );
  process.exit(1);
}
await import(cli.href);
