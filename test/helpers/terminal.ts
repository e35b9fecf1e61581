import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cliEnv } from './cli.js';

/** One tmux server of this test's own (its own socket), killed at the end. */
export class Terminal {
  private readonly socket = `warden-init-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  constructor(command: string) {
    assert.ok(spawnSync('tmux', ['-V']).status === 0, 'these tests drive a real terminal with tmux: sudo apt-get install -y tmux (.ci/run installs it)');
    this.tmux('new-session', '-d', '-s', 't', '-x', '160', '-y', '60', command);
  }
  private tmux(...args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8', env: cliEnv() });
  }
  /** The pane as text (tmux trims the spaces at the end of each line). */
  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 't', '-S', '-200');
  }
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const text = this.screen();
      if (pattern.test(text)) return text;
      if (Date.now() > end) assert.fail(`timed out waiting for ${pattern}; the screen:\n${text}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  type(text: string): void {
    if (text) this.tmux('send-keys', '-t', 't', '-l', text);
    this.tmux('send-keys', '-t', 't', 'Enter');
  }
  /** Ctrl+C, as a person stops a server (closing the terminal would only send SIGHUP, which warden uses to reload keys). */
  interrupt(): void {
    this.tmux('send-keys', '-t', 't', 'C-c');
  }
  close(): void {
    try { this.tmux('kill-server'); } catch { /* already gone */ }
  }
}
