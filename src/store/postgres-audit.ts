import { clampLimit, equalityFilters, GENESIS_ANCHOR, isoTime } from './audit-query.js';
import { lockInSchema, type PgClient, type PgDatabase } from './postgres-pool.js';
import type { AuditAnchor, AuditChainInfo, AuditQuery, AuditRow, AuditSeal, AuditStore } from './types.js';

const ROW_COLUMNS = 'instance, seq, prev_hash AS "prevHash", hash, body';

/**
 * The audit chains in PostgreSQL: one per instance. An append locks only its own chain (an advisory lock on
 * the instance's name, held to the end of the transaction), so instances never wait for each other, and a
 * CLI writing with the same instance id as a gateway seals after whatever that gateway committed last.
 */
export class PostgresAuditStore implements AuditStore {
  constructor(private readonly db: PgDatabase) {}

  async append(instance: string, records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
    if (records.length === 0) return [];
    return this.db.transaction((client) => appendInTransaction(client, instance, records, seal));
  }

  async query(query: AuditQuery): Promise<AuditRow[]> {
    const where: string[] = [];
    const values: unknown[] = [];
    if (query.since !== undefined) where.push(`ts >= $${values.push(isoTime(query.since, 'since'))}`);
    if (query.until !== undefined) where.push(`ts < $${values.push(isoTime(query.until, 'until'))}`);
    for (const [column, value] of equalityFilters(query)) where.push(`${column} = $${values.push(value)}`);
    if (query.after) where.push(`(ts, instance, seq) > ($${values.push(query.after.ts)}, $${values.push(query.after.instance)}, $${values.push(query.after.seq)})`);
    if (query.before) where.push(`(ts, instance, seq) < ($${values.push(query.before.ts)}, $${values.push(query.before.instance)}, $${values.push(query.before.seq)})`);
    const order = query.order === 'desc' ? 'DESC' : 'ASC';
    const sql = `SELECT ${ROW_COLUMNS} FROM audit_records${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
      ORDER BY ts ${order}, instance ${order}, seq ${order} LIMIT $${values.push(clampLimit(query.limit))}`;
    return (await this.db.query<AuditRow>(sql, values)).rows;
  }

  async scan(instance: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
    const { rows } = await this.db.query<AuditRow>({
      name: 'warden_audit_scan',
      text: `SELECT ${ROW_COLUMNS} FROM audit_records WHERE instance = $1 AND seq > $2 ORDER BY seq LIMIT $3`,
      values: [instance, afterSeq, Math.max(0, Math.trunc(limit))],
    });
    return rows;
  }

  async chains(): Promise<AuditChainInfo[]> {
    const { rows } = await this.db.query<{ instance: string; head_seq: number | null; head_hash: string | null; anchor_seq: number | null; anchor_hash: string | null }>(
      `SELECT i.instance, h.seq AS head_seq, h.hash AS head_hash, a.seq AS anchor_seq, a.hash AS anchor_hash
        FROM (SELECT DISTINCT instance FROM audit_records UNION SELECT instance FROM audit_anchors) i
        LEFT JOIN audit_anchors a ON a.instance = i.instance
        LEFT JOIN LATERAL (SELECT seq, hash FROM audit_records r WHERE r.instance = i.instance ORDER BY seq DESC LIMIT 1) h ON true
        ORDER BY i.instance`,
    );
    return rows.map((r) => {
      const anchor = r.anchor_seq === null ? { ...GENESIS_ANCHOR } : { seq: r.anchor_seq, hash: r.anchor_hash! };
      return { instance: r.instance, anchor, head: r.head_seq === null ? anchor : { seq: r.head_seq, hash: r.head_hash! } };
    });
  }

  anchor(instance: string): Promise<AuditAnchor> {
    return anchorIn(this.db, instance);
  }

  head(instance: string): Promise<AuditAnchor> {
    return headIn(this.db, instance);
  }

  async prune(before: number): Promise<number> {
    const iso = isoTime(before, 'before');
    return this.db.transaction(async (client) => {
      const instances = (await client.query<{ instance: string }>('SELECT DISTINCT instance FROM audit_records ORDER BY instance')).rows;
      let deleted = 0;
      for (const { instance } of instances) {
        // Locked like an append, so a prune and an append on the same chain cannot interleave.
        await lockChain(client, instance);
        // Only a prefix may go, or verify would see a hole; ts is not strictly ordered by seq (clocks differ),
        // so the prefix ends at the first record still within retention (see sqlite-audit.ts).
        const firstKept = (await client.query<{ seq: number }>(
          'SELECT seq FROM audit_records WHERE instance = $1 AND ts >= $2 ORDER BY seq LIMIT 1', [instance, iso],
        )).rows[0]?.seq;
        const last = (await client.query<AuditAnchor>(
          firstKept === undefined
            ? 'SELECT seq, hash FROM audit_records WHERE instance = $1 ORDER BY seq DESC LIMIT 1'
            : 'SELECT seq, hash FROM audit_records WHERE instance = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1',
          firstKept === undefined ? [instance] : [instance, firstKept],
        )).rows[0];
        if (!last) continue;
        deleted += (await client.query('DELETE FROM audit_records WHERE instance = $1 AND seq <= $2', [instance, last.seq])).rowCount ?? 0;
        await client.query(
          'INSERT INTO audit_anchors (instance, seq, hash) VALUES ($1, $2, $3) ON CONFLICT (instance) DO UPDATE SET seq = excluded.seq, hash = excluded.hash',
          [instance, last.seq, last.hash],
        );
      }
      return deleted;
    });
  }
}

/**
 * Appends `records` to `instance`'s chain within the caller's transaction, sealed after its head: for a caller
 * whose records must commit or vanish with other writes (`warden store copy`'s own record of the copy).
 */
export async function appendInTransaction(client: PgClient, instance: string, records: readonly unknown[], seal: AuditSeal): Promise<AuditRow[]> {
  await lockChain(client, instance);
  let head = await headIn(client, instance);
  const rows: AuditRow[] = [];
  for (const record of records) {
    const seq = head.seq + 1;
    const { body, hash } = seal(seq, head.hash, record);
    rows.push({ instance, seq, prevHash: head.hash, hash, body });
    head = { seq, hash };
  }
  // One statement for the batch, whatever its size.
  await client.query({
    name: 'warden_audit_append',
    text: `INSERT INTO audit_records (instance, seq, body, prev_hash, hash)
      SELECT $1, * FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[])`,
    values: [instance, rows.map((r) => r.seq), rows.map((r) => r.body), rows.map((r) => r.prevHash), rows.map((r) => r.hash)],
  });
  return rows;
}

export async function lockChain(client: PgClient, instance: string): Promise<void> {
  // hashtext: two instances whose names collide only share a lock (they wait for each other), nothing more.
  await lockInSchema(client, `audit ${instance}`);
}

async function anchorIn(client: PgClient, instance: string): Promise<AuditAnchor> {
  const { rows } = await client.query<AuditAnchor>({ name: 'warden_audit_anchor', text: 'SELECT seq, hash FROM audit_anchors WHERE instance = $1', values: [instance] });
  return rows[0] ?? { ...GENESIS_ANCHOR };
}

async function headIn(client: PgClient, instance: string): Promise<AuditAnchor> {
  const { rows } = await client.query<AuditAnchor>({
    name: 'warden_audit_head',
    text: 'SELECT seq, hash FROM audit_records WHERE instance = $1 ORDER BY seq DESC LIMIT 1',
    values: [instance],
  });
  return rows[0] ?? anchorIn(client, instance);
}
