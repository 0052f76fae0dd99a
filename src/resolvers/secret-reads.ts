/** The secret fields one request returned, by token id. */
export class SecretReads {
  // Made on the first read: most requests read no secret.
  private byToken: Map<string, Set<string>> | null = null;

  add(tokenId: string, field: string): void {
    this.byToken ??= new Map();
    let fields = this.byToken.get(tokenId);
    if (!fields) this.byToken.set(tokenId, (fields = new Set()));
    fields.add(field);
  }

  /** How many tokens had a secret read. */
  get size(): number {
    return this.byToken?.size ?? 0;
  }

  /** Each token with the fields read, sorted. */
  entries(): Array<{ tokenId: string; fields: string[] }> {
    return [...(this.byToken ?? [])].map(([tokenId, fields]) => ({ tokenId, fields: [...fields].sort() }));
  }
}
