// A second reporter beside TAP for run-tests.mjs: it writes one line per failed test (file, test, error), so
// the runner can repeat them after the whole run, where the end of a long log shows them. Suites that fail only
// because a test in them did are left out: the test's own line says it.
export default async function* failures(source) {
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, file, details } = event.data;
    const error = details?.error;
    if (error?.failureType === 'subtestsFailed') continue;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? 'failed').split('\n').slice(0, 6).join('\n    ');
    yield `${file ?? '?'}\n  ${name}\n    ${message}\n`;
  }
}
