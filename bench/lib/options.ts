/** Benchmark options: `--name value` flags, BENCH_* environment variables, defaults. */

export interface BenchOptions {
  /** Measured rounds; each round runs every scenario once. */
  rounds: number;
  /** Measured load per scenario per round. */
  seconds: number;
  /** Unmeasured load per scenario before the first round. */
  warmupSeconds: number;
  /** Concurrent requests (= connections) from the load generator. */
  concurrency: number;
  /** Print one JSON document instead of tables. */
  json: boolean;
  /** Run the gateway with --cpu-prof and print its hottest functions at the end (numbers get slower). */
  cpuProf: boolean;
}

const OPTION_HELP = `options (or env BENCH_ROUNDS, BENCH_SECONDS, BENCH_WARMUP, BENCH_CONCURRENCY, BENCH_JSON=1, BENCH_CPU_PROF=1):
  --rounds N        measured rounds, each runs every target once (alternating order)
  --seconds S       measured seconds per target per round
  --warmup S        unmeasured seconds per target before round 1
  --concurrency N   concurrent requests / connections
  --json            machine-readable output
  --cpu-prof        profile the gateway process and print its hotspots (slows it down)`;

/**
 * `--name value` / `--name=value` flags as a map; `booleans` take no value. `--help` prints `help` and exits;
 * an unknown flag or a stray argument throws with `help` attached.
 */
export function readFlags(argv: readonly string[], known: readonly string[], booleans: readonly string[], help: string): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${help}\n`);
      process.exit(0);
    }
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}\n${help}`);
    const eq = arg.indexOf('=');
    if (eq !== -1) flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    else if (booleans.includes(arg.slice(2))) flags.set(arg.slice(2), 'true');
    else flags.set(arg.slice(2), argv[++i] ?? '');
  }
  for (const name of flags.keys()) if (!known.includes(name)) throw new Error(`unknown option --${name}\n${help}`);
  return flags;
}

/** Reads `--name value` / `--name=value` flags, falling back to BENCH_* variables, then to `defaults`. */
export function parseOptions(defaults: BenchOptions, argv = process.argv.slice(2), env = process.env): BenchOptions {
  const flags = readFlags(argv, ['rounds', 'seconds', 'warmup', 'concurrency', 'json', 'cpu-prof'], ['json', 'cpu-prof'], OPTION_HELP);

  const num = (flag: string, envName: string, fallback: number, integer: boolean): number => {
    const raw = flags.get(flag) ?? env[envName];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isFinite(value) || value <= 0 || (integer && !Number.isInteger(value))) {
      throw new Error(`--${flag} (${envName}) must be a positive ${integer ? 'integer' : 'number'}, got ${JSON.stringify(raw)}`);
    }
    return value;
  };
  const bool = (flag: string, envName: string, fallback: boolean): boolean => {
    const raw = flags.get(flag) ?? env[envName];
    if (raw === undefined || raw === '') return fallback;
    return raw === 'true' || raw === '1' || raw === 'yes';
  };
  return {
    rounds: num('rounds', 'BENCH_ROUNDS', defaults.rounds, true),
    seconds: num('seconds', 'BENCH_SECONDS', defaults.seconds, false),
    warmupSeconds: num('warmup', 'BENCH_WARMUP', defaults.warmupSeconds, false),
    concurrency: num('concurrency', 'BENCH_CONCURRENCY', defaults.concurrency, true),
    json: bool('json', 'BENCH_JSON', defaults.json),
    cpuProf: bool('cpu-prof', 'BENCH_CPU_PROF', defaults.cpuProf),
  };
}
