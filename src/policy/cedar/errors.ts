/** Why a policy set could not be loaded; `problems` are one line each, naming the file (and line) at fault. */
export type PolicyErrorCode = 'unreadable' | 'parse' | 'validation' | 'entities' | 'schema';

export class PolicyError extends Error {
  constructor(readonly code: PolicyErrorCode, readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'PolicyError';
  }
}
