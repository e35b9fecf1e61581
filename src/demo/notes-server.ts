#!/usr/bin/env node
/**
 * The demo upstream bundled with warden: a small notes store as an MCP server over stdio. Notes are kept in
 * one JSON file (WARDEN_DEMO_NOTES, default ./.warden/demo-notes.json) so that every session the gateway
 * starts sees the same notes.
 */
import { readFileSync, writeFileSync, mkdirSync, renameSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { z } from 'zod';

interface Note {
  id: string;
  title: string;
  body: string;
  tags: string[];
  createdAt: string;
}

const file = resolve(process.env.WARDEN_DEMO_NOTES ?? '.warden/demo-notes.json');

const SEED: Note[] = [
  { id: 'welcome', title: 'Welcome to mcp-warden', body: 'This note comes from the demo notes server behind the gateway. Every call you make is checked and audited.', tags: ['demo'], createdAt: new Date(0).toISOString() },
  { id: 'allow-list', title: 'Why delete_note is missing', body: 'The demo config allows every tool but delete_note; the gateway hides it from tools/list and refuses calls to it.', tags: ['demo', 'policy'], createdAt: new Date(0).toISOString() },
];

function load(): Note[] {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as Note[];
  } catch {
    return [...SEED];
  }
}

function save(notes: Note[]): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(notes, null, 2), { mode: 0o600 });
  renameSync(tmp, file); // atomic: a concurrent session never reads half a file
}

const text = (t: string) => ({ content: [{ type: 'text' as const, text: t }] });
const describe = (n: Note) => `${n.id}: ${n.title}${n.tags.length ? ` [${n.tags.join(', ')}]` : ''}`;

const server = new McpServer({ name: 'warden-demo-notes', version: '1.0.0' });

server.registerTool('add_note', {
  description: 'Store a new note',
  inputSchema: { title: z.string().min(1).max(200), body: z.string().max(10_000), tags: z.array(z.string()).max(10).optional() },
}, async ({ title, body, tags }) => {
  const notes = load();
  const note: Note = { id: randomUUID().slice(0, 8), title, body, tags: tags ?? [], createdAt: new Date().toISOString() };
  notes.push(note);
  save(notes);
  return text(`Saved note ${note.id}`);
});

server.registerTool('list_notes', {
  description: 'List notes, optionally only those with a tag',
  inputSchema: { tag: z.string().optional() },
}, async ({ tag }) => {
  const notes = load().filter((n) => !tag || n.tags.includes(tag));
  return text(notes.length ? notes.map(describe).join('\n') : 'No notes.');
});

server.registerTool('search_notes', {
  description: 'Find notes whose title or body contains the query (case-insensitive)',
  inputSchema: { query: z.string().min(1) },
}, async ({ query }) => {
  const q = query.toLowerCase();
  const hits = load().filter((n) => n.title.toLowerCase().includes(q) || n.body.toLowerCase().includes(q));
  return text(hits.length ? hits.map(describe).join('\n') : `No note matches "${query}".`);
});

server.registerTool('get_note', {
  description: 'Read one note by id',
  inputSchema: { id: z.string() },
}, async ({ id }) => {
  const note = load().find((n) => n.id === id);
  return note ? text(`# ${note.title}\n\n${note.body}`) : { ...text(`No note with id ${id}.`), isError: true };
});

server.registerTool('delete_note', {
  description: 'Delete a note by id',
  inputSchema: { id: z.string() },
}, async ({ id }) => {
  const notes = load();
  const kept = notes.filter((n) => n.id !== id);
  save(kept);
  return text(kept.length < notes.length ? `Deleted ${id}` : `No note with id ${id}.`);
});

server.registerTool('count_slowly', {
  description: 'Count to n, one step every 100 ms, with progress notifications (shows streaming through the gateway)',
  inputSchema: { n: z.number().int().min(1).max(50) },
}, async ({ n }, extra) => {
  const token = extra._meta?.progressToken;
  for (let i = 1; i <= n; i++) {
    await new Promise((r) => setTimeout(r, 100));
    if (token !== undefined) await extra.sendNotification({ method: 'notifications/progress', params: { progressToken: token, progress: i, total: n } });
  }
  return text(`Counted to ${n}`);
});

server.registerResource('note', new ResourceTemplate('note://{id}', {
  list: async () => ({ resources: load().map((n) => ({ uri: `note://${n.id}`, name: n.title, mimeType: 'text/markdown' })) }),
}), { description: 'A note as Markdown', mimeType: 'text/markdown' }, async (uri, { id }) => {
  const note = load().find((n) => n.id === id);
  if (!note) throw new Error(`No note with id ${String(id)}`);
  return { contents: [{ uri: uri.href, mimeType: 'text/markdown', text: `# ${note.title}\n\n${note.body}` }] };
});

server.registerPrompt('summarize_notes', {
  description: 'Ask the model to summarize the notes with a tag',
  argsSchema: { tag: z.string().optional() },
}, ({ tag }) => {
  const notes = load().filter((n) => !tag || n.tags.includes(tag));
  return {
    messages: [{ role: 'user', content: { type: 'text', text: `Summarize these notes:\n\n${notes.map((n) => `## ${n.title}\n${n.body}`).join('\n\n')}` } }],
  };
});

await server.connect(new StdioServerTransport());
