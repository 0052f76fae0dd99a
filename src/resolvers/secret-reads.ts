/** The secret fields one request returned, by token id. */
export class SecretReads {
  private readonly byToken = new Map<string, Set<string>>();

  add(tokenId: string, field: string): void {
    let fields = this.byToken.get(tokenId);
    if (!fields) this.byToken.set(tokenId, (fields = new Set()));
    fields.add(field);
  }

  /** Each token with the fields read, sorted. */
  entries(): Array<{ tokenId: string; fields: string[] }> {
    return [...this.byToken].map(([tokenId, fields]) => ({ tokenId, fields: [...fields].sort() }));
  }
}
