import type { LoadedConfig } from '../config/index.js';
import { gatherFacts, reviewConfig } from '../doctor/index.js';
import { findingText } from './doctor-format.js';

/**
 * `warden serve` says at start what `warden doctor` would call critical (credentials over plain HTTP, no
 * audit, ...), on stderr where the person starting it looks. The rest is left to `warden doctor`.
 */
export async function warnGravest(loaded: LoadedConfig): Promise<void> {
  let findings;
  try {
    ({ findings } = reviewConfig(await gatherFacts(loaded)));
  } catch {
    // The store could not be read for the review: starting the gateway reports why, in its own words.
    return;
  }
  const gravest = findings.filter((f) => f.severity === 'critical');
  if (gravest.length === 0) return;
  process.stderr.write(`warden: WARNING: this configuration has ${gravest.length === 1 ? 'a serious problem' : `${gravest.length} serious problems`} (\`warden doctor\` reviews it all):\n${gravest.map((f) => findingText(f)).join('')}`);
}
