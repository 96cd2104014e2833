// One copy of each string that repeats across thousands of cached objects. JSON.parse gives every
// occurrence of a value its own string: "SessionLivedBackend", "True", a node's name, a condition's
// message, an image, held once per object and field. A cache's slim transform passes such fields through
// `intern` so they are held once. Only fields whose values come from a small set belong here (kinds,
// types, reasons, node and container names…), never uids, names or timestamps; the pool stops growing at
// `max` entries regardless, so a field that turns out to vary only costs a lookup.
export class StringPool {
  private readonly strings = new Map<string, string>();
  private readonly max: number;

  constructor(max = 4096) {
    this.max = max;
  }

  intern<S extends string | undefined>(value: S): S {
    if (value === undefined) return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known as S;
    if (this.strings.size < this.max) this.strings.set(value, value);
    return value;
  }

  get size(): number {
    return this.strings.size;
  }
}
