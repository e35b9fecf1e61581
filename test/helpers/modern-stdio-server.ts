/**
 * The SDK 2.x test server (modern-server.ts) over stdio, through the SDK's dual-era stdio entry: 2026-07-28
 * requests as they come, and 2025-11-25 after an initialize. Started by modernStdioCommand() in modern.ts.
 */
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { buildModernServer } from './modern-server.js';

serveStdio(buildModernServer);
