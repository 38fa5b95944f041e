// A Map for caches and bounded memories: past its limit it forgets the
// entries set longest ago. One mechanism for every "keep the last N" (or the
// last N bytes) in the code, instead of an eviction loop at each place.

export class BoundedMap<K, V> {
  private readonly map = new Map<K, V>();
  private total = 0;

  /** `limit` is in entries, or in whatever `weigh` measures (bytes, say). */
  constructor(
    private readonly limit: number,
    private readonly weigh: (value: V) => number = () => 1,
  ) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    return this.map.get(key);
  }

  has(key: K): boolean {
    return this.map.has(key);
  }

  /** Adds or replaces; either way the entry becomes the newest. Then the oldest go until the total fits. */
  set(key: K, value: V): this {
    this.delete(key);
    this.map.set(key, value);
    this.total += this.weigh(value);
    for (const [k, v] of this.map) {
      if (this.total <= this.limit) break;
      this.map.delete(k);
      this.total -= this.weigh(v);
    }
    return this;
  }

  delete(key: K): boolean {
    if (!this.map.has(key)) return false;
    this.total -= this.weigh(this.map.get(key)!);
    return this.map.delete(key);
  }
}
