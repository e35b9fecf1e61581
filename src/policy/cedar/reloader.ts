import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import type { Logger } from '../../shared/log.js';
import type { CedarEngine } from './engine.js';
import { PolicyError } from './errors.js';
import { loadPolicySet, type PolicySources } from './policy-set.js';

/** How long after the last change event a reload starts: editors write a file in several steps. */
const SETTLE_MS = 150;

export interface ReloadStatus {
  /** When the last reload attempt ended, and whether it was refused. */
  lastAttempt?: string;
  /** Set while the files on disk do not validate: the set in force is the older one. */
  lastError?: { at: string; problems: readonly string[] };
}

/**
 * Keeps a `CedarEngine` in step with its files: on a change in the policies, schema or entities, the set is
 * loaded again and swapped in only when it parses and validates. A set that does not is refused whole: the old
 * set stays in force, the problem is logged and shown by `status()` until a good set replaces it.
 * Folders are watched rather than files, so a file an editor replaces (write, then rename) is still seen.
 */
export class PolicyReloader {
  private watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly state: ReloadStatus = {};

  constructor(private readonly engine: CedarEngine, private readonly sources: PolicySources, private readonly log: Logger) {}

  start(): this {
    const folders = new Map<string, Set<string> | 'all'>();
    folders.set(resolve(this.sources.policies), 'all');
    for (const file of this.engine.files) {
      const dir = dirname(resolve(file));
      const known = folders.get(dir);
      if (known === 'all') continue;
      folders.set(dir, (known ?? new Set()).add(basename(file)));
    }
    for (const [dir, names] of folders) {
      try {
        const watcher = watch(dir, (_event, name) => {
          if (names === 'all' || (name !== null && names.has(name.toString()))) this.schedule();
        });
        watcher.on('error', (err) => this.log.warn({ dir, err: err.message }, 'policy files: watching stopped'));
        watcher.unref();
        this.watchers.push(watcher);
      } catch {
        // A policy file (not a folder) is watched through its folder, added above; `watch` refuses only a missing path, which load already reported.
      }
    }
    return this;
  }

  /** Loads the files now; true when the new set is in force. */
  reload(): boolean {
    const at = new Date().toISOString();
    this.state.lastAttempt = at;
    try {
      this.engine.replace(loadPolicySet(this.sources));
      delete this.state.lastError;
      this.log.info({ version: this.engine.version, policies: this.engine.policies.size }, 'policies reloaded');
      return true;
    } catch (err) {
      const problems = err instanceof PolicyError ? err.problems : [(err as Error).message];
      this.state.lastError = { at, problems };
      this.log.error({ problems, version: this.engine.version }, 'policies on disk were refused; the previous set stays in force');
      return false;
    }
  }

  status(): ReloadStatus {
    return { ...this.state };
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }

  private schedule(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), SETTLE_MS);
    this.timer.unref();
  }
}
