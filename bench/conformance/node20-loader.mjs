// The conformance CLI (0.2.0 prereleases) imports `globSync` from node:fs, which Node 22 added; this project's
// machines run Node 20. A module-load hook gives it the `glob` package's globSync instead, nothing else changed.
// Used as: node --import ./bench/conformance/node20.mjs node_modules/@modelcontextprotocol/conformance/dist/index.js …
const SHIM = new URL('./glob-sync.mjs', import.meta.url).href;

export async function load(url, context, next) {
  const result = await next(url, context);
  if (!url.includes('/@modelcontextprotocol/conformance/dist/') || result.format !== 'module') return result;
  const source = String(result.source).replace(
    /import\{([^}]*?)globSync as (\w+),?([^}]*)\}from"fs";/,
    (_all, before, alias, after) => `import{${before}${after}}from"fs";import{globSync as ${alias}}from"${SHIM}";`,
  );
  return { ...result, source };
}
