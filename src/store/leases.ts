/**
 * A lease is a claim on a name (an effect key, a delivery, the monitor) held by one replica at a
 * time. The holder renews it while it works; a holder that dies stops renewing, so its claim
 * expires and another replica may take the work over. Only an expired claim is taken over.
 */
export interface Lease {
  /** Aborted when the holder learns it no longer holds the claim (a renewal was refused or could not reach Redis in time). */
  readonly lost: AbortSignal;
  /** Give the claim up; harmless when it already expired or went to someone else. */
  release(): Promise<void>;
}

export interface Leases {
  /** Claim `name` for `ttlMs` (renewed while held); undefined when someone else holds it. */
  claim(name: string, ttlMs: number): Promise<Lease | undefined>;
  /** Whether anyone holds a live claim on `name`. */
  held(name: string): Promise<boolean>;
}

/**
 * Defaults, with why. An effect or delivery claim that outlives its holder delays the takeover by
 * at most this long; a shorter one costs more renewals. Renewal runs every third of the lease.
 */
export const leaseDefaults = {
  /** A dead replica's effects are revived this long after its last renewal. */
  effectMs: 30_000,
  /** A delivery claimed by a replica that died is taken by another this long after. */
  deliveryMs: 30_000,
  /** A dead leader's monitor duties move to another replica this long after its last renewal. */
  leaderMs: 30_000,
} as const;

/**
 * One process (embedded mode): a claim is an entry in a set, held until released. Nothing can
 * die without the whole process dying, so nothing expires.
 */
export class LocalLeases implements Leases {
  private readonly claims = new Set<string>();

  async claim(name: string): Promise<Lease | undefined> {
    if (this.claims.has(name)) return undefined;
    this.claims.add(name);
    const lost = new AbortController();
    return {
      lost: lost.signal,
      release: async () => {
        this.claims.delete(name);
      },
    };
  }

  async held(name: string): Promise<boolean> {
    return this.claims.has(name);
  }
}

/**
 * Whether this replica leads (runs the monitor's sweep and reconciliation). The leader keeps its
 * lease renewed; the others try to take it at each call, so a dead leader is replaced within a
 * lease time. With `LocalLeases` the one process always leads.
 */
export class Leadership {
  private lease: Lease | undefined;

  constructor(
    private readonly leases: Leases,
    private readonly name = "leader:monitor",
    private readonly ttlMs: number = leaseDefaults.leaderMs,
  ) {}

  async leads(): Promise<boolean> {
    if (this.lease && !this.lease.lost.aborted) return true;
    this.lease = await this.leases.claim(this.name, this.ttlMs);
    return this.lease !== undefined;
  }

  /** Step down (a graceful shutdown): another replica leads at its next try, not a lease time later. */
  async resign(): Promise<void> {
    const lease = this.lease;
    this.lease = undefined;
    await lease?.release();
  }
}
