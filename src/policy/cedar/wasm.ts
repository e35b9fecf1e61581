import { setFlagsFromString } from 'node:v8';

/**
 * The one door to `@cedar-policy/cedar-wasm`. Node 20's V8 (11.3) aborts the process (a fatal "unreachable
 * code" in Deoptimizer::DoComputeBuiltinContinuation) when optimized code that inlined a JS-to-Wasm call is
 * deoptimized lazily: reproducibly here after a run of decisions then a run of list items
 * (bench/cedar.ts). Turning that inlining off before any Cedar call is optimized avoids it; it costs nothing
 * measurable next to a decision. Node 22 and later do not need it but are not harmed.
 */
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

export * from '@cedar-policy/cedar-wasm/nodejs';
