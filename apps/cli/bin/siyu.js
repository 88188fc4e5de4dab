#!/usr/bin/env node
// Entry of the `siyu` command: registers the TypeScript loader, then runs src/main.ts.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
