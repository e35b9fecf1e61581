import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface, type Interface } from 'node:readline/promises';
import { answersForScenario, decide, parseUpstream, COST, IDPS, USERS, WHERE, type Answers, type UpstreamAnswer } from '../init/plan.js';
import { nextCommands, renderConfig } from '../init/template.js';
import type { InitOptions } from './commands/init.js';

/** `warden init`: the dialog (or the flags), then the file and the next three commands. Returns the exit code. */

const DEMO_SERVER = fileURLToPath(new URL('../demo/notes-server.js', import.meta.url));

export async function runInit(opts: InitOptions): Promise<number> {
  const file = resolve(opts.output);
  const interactive = !opts.yes;
  if (interactive && !process.stdin.isTTY) {
    process.stderr.write('warden: init asks questions and stdin is not a terminal; pass --yes with --scenario and --upstream for scripts\n');
    return 2;
  }
  let upstreams: UpstreamAnswer[];
  try {
    upstreams = (opts.upstream ?? []).map((u) => parseUpstream(u, DEMO_SERVER));
  } catch (err) {
    process.stderr.write(`warden: --upstream: ${(err as Error).message}\n`);
    return 2;
  }
  const rl = interactive ? createInterface({ input: process.stdin, output: process.stdout }) : undefined;
  try {
    if (existsSync(file) && !opts.force) {
      if (!rl) {
        process.stderr.write(`warden: ${file} exists; nothing written. Pass --force to overwrite it, or --output another file\n`);
        return 1;
      }
      if (!/^y(es)?$/i.test((await rl.question(`${file} exists. Overwrite it? [y/N] `)).trim())) {
        process.stdout.write('nothing written\n');
        return 1;
      }
    }
    let answers: Answers;
    if (rl) {
      process.stdout.write('warden init: four questions decide how the gateway protects your MCP servers.\n\n');
      const users = await choose(rl, 'Who are the users?', USERS, 'me');
      const cost = await choose(rl, 'What would unauthorised access cost?', COST, 'low');
      const where = await choose(rl, 'Where does the gateway run?', WHERE, users === 'me' ? 'local' : users === 'company' ? 'company' : 'internet');
      const idp = await choose(rl, 'What identity infrastructure exists?', IDPS, 'none');
      const issuer = idp === 'none' ? undefined
        : (await rl.question(`The issuer URL of ${IDPS[idp]}, as its tokens carry it in iss (Enter: fill in later): `)).trim() || undefined;
      const publicUrl = where === 'local' && users === 'me' ? undefined
        : (await rl.question('The https address clients will use (Enter: fill in later): ')).trim() || undefined;
      if (upstreams.length === 0) upstreams = await askUpstreams(rl);
      answers = { users, cost, where, idp, upstreams, publicUrl, ...(issuer ? { issuer } : {}) };
    } else {
      answers = { ...answersForScenario(opts.scenario ?? 'local'), upstreams, publicUrl: opts.publicUrl };
      if (opts.idp) answers.idp = opts.idp as Answers['idp'];
    }
    if (opts.idpIssuer) answers.issuer = opts.idpIssuer;
    if (answers.issuer && !/^https?:\/\//.test(answers.issuer)) {
      process.stderr.write(`warden: the IdP's issuer is a URL (https://…); got ${answers.issuer}\n`);
      return 2;
    }
    if (answers.upstreams.length === 0) answers.upstreams = [parseUpstream('demo', DEMO_SERVER)];
    if (opts.publicUrl) answers.publicUrl = opts.publicUrl;
    if (answers.publicUrl && !/^https:\/\//.test(answers.publicUrl)) {
      process.stderr.write(`warden: the public address must be https:// (clients send credentials to it); got ${answers.publicUrl}\n`);
      return 2;
    }
    const plan = decide(answers);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, renderConfig(plan), { mode: 0o644 });
    process.stdout.write(`\nwrote ${file} (${plan.scenario} scenario, ${plan.auth === 'none' ? 'no authentication' : plan.auth === 'apiKeys' ? 'API keys' : 'OAuth sign-in'}, ${plan.upstreams.map((u) => u.name).join(', ')})\n`);
    if (!plan.publicUrl && plan.scenario !== 'local') process.stdout.write('edit publicUrl: the https address of the TLS proxy in front of the gateway\n');
    if (plan.auth !== 'none' && plan.upstreams.some((u) => !u.tools)) process.stdout.write('edit authorization.scopes: name the tools each scope opens (default deny)\n');
    process.stdout.write(`\nnext:\n${nextCommands(plan, opts.output).map((c) => `  ${c}\n`).join('')}`);
    return 0;
  } finally {
    rl?.close();
  }
}

async function choose<K extends string>(rl: Interface, question: string, options: Record<K, string>, fallback: K): Promise<K> {
  const keys = Object.keys(options) as K[];
  for (;;) {
    process.stdout.write(`${question}\n${keys.map((k, i) => `  ${i + 1}) ${options[k]}${k === fallback ? '  (default)' : ''}\n`).join('')}`);
    const reply = (await rl.question('> ')).trim();
    if (reply === '') return fallback;
    const n = Number(reply);
    if (Number.isInteger(n) && n >= 1 && n <= keys.length) return keys[n - 1]!;
    const byName = keys.find((k) => k === reply || options[k].toLowerCase().startsWith(reply.toLowerCase()));
    if (byName) return byName;
    process.stdout.write(`  answer 1 to ${keys.length}\n`);
  }
}

async function askUpstreams(rl: Interface): Promise<UpstreamAnswer[]> {
  process.stdout.write('The MCP servers to put behind the gateway: a URL (http://host/mcp), a command line\n(npx -y @modelcontextprotocol/server-everything@2026.1.26), or "demo". An empty line ends the list.\n');
  const out: UpstreamAnswer[] = [];
  for (;;) {
    const line = (await rl.question(`server ${out.length + 1}${out.length === 0 ? ' (Enter: the demo notes server)' : ''}: `)).trim();
    if (line === '') return out;
    try {
      const u = parseUpstream(line, DEMO_SERVER);
      if (out.some((o) => o.name === u.name)) u.name = `${u.name}-${out.length + 1}`;
      out.push(u);
      process.stdout.write(`  -> ${u.name} at /mcp/${u.name}\n`);
    } catch (err) {
      process.stdout.write(`  ${(err as Error).message}\n`);
    }
  }
}
