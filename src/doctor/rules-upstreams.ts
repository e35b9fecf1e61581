import { basename } from 'node:path';
import type { Rule } from './types.js';

/** What the servers behind the gateway are, and how much of them callers may use. */

/** Launchers that fetch a package from a registry at every start, and the flags of theirs that take a value. */
const LAUNCHERS: Record<string, { skip: number; valueFlags: string[]; packageFlags: string[] }> = {
  npx: { skip: 1, valueFlags: ['-p', '--package', '-c', '--call'], packageFlags: ['-p', '--package'] },
  bunx: { skip: 1, valueFlags: ['-p', '--package'], packageFlags: ['-p', '--package'] },
  pnpx: { skip: 1, valueFlags: [], packageFlags: [] },
  'pnpm dlx': { skip: 2, valueFlags: ['--package'], packageFlags: ['--package'] },
  'yarn dlx': { skip: 2, valueFlags: ['-p', '--package'], packageFlags: ['-p', '--package'] },
  'npm exec': { skip: 2, valueFlags: ['-p', '--package', '-c', '--call'], packageFlags: ['-p', '--package'] },
  uvx: { skip: 1, valueFlags: ['--from', '--with', '--python'], packageFlags: ['--from'] },
};

/** The package a launcher command runs, or undefined when the command is not a launcher. */
export function launchedPackage(command: readonly string[]): { launcher: string; spec: string } | undefined {
  const first = basename(command[0] ?? '').replace(/\.(cmd|exe)$/, '');
  const launcher = LAUNCHERS[`${first} ${command[1] ?? ''}`] ? `${first} ${command[1]}` : LAUNCHERS[first] ? first : undefined;
  if (!launcher) return undefined;
  const { skip, valueFlags, packageFlags } = LAUNCHERS[launcher]!;
  const args = command.slice(skip);
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [flag, inline] = a.split('=', 2) as [string, string | undefined];
    if (packageFlags.includes(flag)) return { launcher, spec: inline ?? args[i + 1] ?? '' };
    if (valueFlags.includes(flag)) {
      if (inline === undefined) i++;
      continue;
    }
    if (a === '--') continue;
    if (a.startsWith('-')) continue;
    return { launcher, spec: a };
  }
  return undefined;
}

/** An exact version: `name@1.2.3` (npm) or `name==1.2.3` / `name@1.2.3` (uvx). Ranges and tags move. */
export function isPinned(spec: string): boolean {
  const m = /^(@[^/]+\/)?[^@=]+(?:@|==)(.+)$/.exec(spec);
  return m !== null && /^v?\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$/.test(m[2]!);
}

export const unpinnedLauncher: Rule = {
  id: 'unpinned-package',
  severity: 'warning',
  check: ({ config }) => Object.entries(config.upstreams).flatMap(([name, u]) => {
    const launched = u.command ? launchedPackage(u.command.map(String)) : undefined;
    if (!launched || isPinned(launched.spec)) return [];
    const bare = launched.spec.replace(/^(@[^/]+\/)?([^@=]+).*$/, '$1$2');
    return [{
      path: `upstreams.${name}.command`,
      message: `${name} runs ${launched.launcher} ${launched.spec} without an exact version: every start may fetch a newer release, whoever published it (supply chain)`,
      fix: `pin it: ${launched.launcher} ${bare}@<version> (see \`npm view ${bare} version\`), or install it and run its binary directly`,
    }];
  }),
};

const EVERYTHING = /^\*+$/;

export const wildcardAllow: Rule = {
  id: 'wildcard-allow',
  severity: 'warning',
  check: ({ config }) => {
    const out = [];
    for (const [name, u] of Object.entries(config.upstreams)) {
      for (const kind of ['tools', 'resources', 'prompts'] as const) {
        if (u.allow?.[kind]?.some((p) => EVERYTHING.test(p))) {
          out.push({
            path: `upstreams.${name}.allow.${kind}`,
            message: `the allow-list of ${name} lets every ${kind.slice(0, -1)} through with '*': a tool the server adds tomorrow is allowed without review`,
            fix: `list the ${kind} callers need by name (or a narrow glob such as "get_*") in upstreams.${name}.allow.${kind}`,
          });
        }
      }
    }
    for (const [scope, s] of Object.entries(config.authorization.scopes)) {
      if (s.tools.some((p) => EVERYTHING.test(p))) {
        out.push({
          path: `authorization.scopes.${scope}.tools`,
          message: `scope ${scope} opens every tool${s.upstreams ? ` of ${s.upstreams.join(', ')}` : ' of every upstream'} with '*': least privilege is lost for whoever holds it`,
          fix: `name the tools in authorization.scopes.${scope}.tools, and split read and write into separate scopes`,
        });
      }
    }
    return out;
  },
};

/** Several instances (PostgreSQL + Redis) with a stdio upstream: its sessions live in one instance's process. */
export const stdioWithoutAffinity: Rule = {
  id: 'stdio-several-instances',
  severity: 'warning',
  check: ({ config }) => {
    if (!('postgres' in config.store)) return [];
    return Object.entries(config.upstreams).filter(([, u]) => u.command).map(([name]) => ({
      path: `upstreams.${name}.command`,
      message: `${name} is a stdio upstream and the store is shared by several instances: each session's server runs inside the instance that opened it, and the others answer 404 session_on_other_instance`,
      fix: 'route a session back to the instance that opened it (HAProxy: a stick table on the Mcp-Session-Id response header, docs/scaling.md), or serve that server over HTTP so that any instance can forward it',
    }));
  },
};
