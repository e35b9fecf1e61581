/**
 * Shared helpers for the benchmarks in bench/: options, child processes, free ports, CPU accounting from
 * /proc, a closed-loop HTTP load generator, statistics, tables and a CPU-profile summary.
 *
 * Everything here talks to loopback only.
 */
export { parseOptions, type BenchOptions } from './options.js';
export { REPO_ROOT, freePort, freePorts, startNode, stopAllChildren, waitForHttp, waitForLine, type Child, type StartChildOptions } from './children.js';
export { machineBusyCpuMs, processCpuMs, selfCpuMs } from './cpu.js';
export { loadPool, runLoad, type LoadRequest, type LoadResult } from './load.js';
export { MCP_POST_HEADERS, MCP_PROTOCOL_VERSION, echoCallPlan, expectJsonRpcResult, toolCallBody, verifyEchoCall } from './mcp.js';
export { FOREIGN_WARN, runRounds, type Measured, type Measurement, type RunPlan, type Scenario } from './rounds.js';
export { median, percentile, summarize, type Summary } from './stats.js';
export { fmt, measurementHeader, measurementRow, table } from './report.js';
export { cpuProfilesIn, formatProfile, profileClockUs, scanLog, summarizeCpuProfile, type Hotspot, type ProfileSummary } from './profile.js';
export { GATEWAY_ENTRY, requireBuiltGateway, serveWarden, waitForWarden, writeWardenConfig } from './warden.js';
