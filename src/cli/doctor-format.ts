import type { Check, Finding } from '../doctor/index.js';

/** How `warden doctor` (and the start-up warning of `warden serve`) prints findings for people. */

export function checksText(checks: Check[]): string {
  const width = Math.max(...checks.map((c) => c.id.length));
  return `review\n${checks.map((c) => `  ${c.ok ? 'ok  ' : 'FAIL'}  ${c.id.padEnd(width)}  ${c.text}\n`).join('')}`;
}

export function findingText(f: Finding, indent = '  '): string {
  return `${indent}${f.severity.toUpperCase()} ${f.id}${f.path ? ` (${f.path})` : ''}\n${indent}  ${f.message}\n${indent}  fix: ${f.fix}\n`;
}

export function findingsText(findings: Finding[]): string {
  if (findings.length === 0) return 'no problems found\n';
  return `${findings.length} problem${findings.length === 1 ? '' : 's'} found\n${findings.map((f) => findingText(f)).join('')}`;
}
