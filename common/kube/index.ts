// A secondary index over an informer's cache (client-go's Indexer): objects by a value computed from
// each one (its controller's uid, a label's value). Kept in step with the cache by the informer's own
// events, which it emits synchronously right after each change, so a lookup never sees the cache and
// the index disagree. A lookup costs the size of its answer, not of the cache.
import type { KubernetesObject } from '@kubernetes/client-node';
import type { Informer } from './informer.ts';
import { objectKey } from './owners.ts';

export class InformerIndex<T extends KubernetesObject> {
  private readonly valuesOf: (obj: T) => string[];
  private readonly byValue = new Map<string, Map<string, T>>();
  private readonly indexed = new Map<string, string[]>(); // object key → the values it is filed under

  constructor(informer: Pick<Informer<T>, 'onEvent'>, valuesOf: (obj: T) => string[]) {
    this.valuesOf = valuesOf;
    informer.onEvent((ev) => {
      if (ev.type === 'delete') this.remove(objectKey(ev.obj));
      else this.put(ev.obj);
    });
  }

  get(value: string): T[] {
    const objs = this.byValue.get(value);
    return objs ? [...objs.values()] : [];
  }

  private put(obj: T): void {
    const key = objectKey(obj);
    this.remove(key);
    const values = this.valuesOf(obj);
    if (values.length === 0) return;
    this.indexed.set(key, values);
    for (const v of values) {
      let objs = this.byValue.get(v);
      if (!objs) this.byValue.set(v, (objs = new Map()));
      objs.set(key, obj);
    }
  }

  private remove(key: string): void {
    const values = this.indexed.get(key);
    if (!values) return;
    this.indexed.delete(key);
    for (const v of values) {
      const objs = this.byValue.get(v);
      objs?.delete(key);
      if (objs?.size === 0) this.byValue.delete(v);
    }
  }
}

/** The uid of the object's controller, as an index value. */
export function controllerUid(obj: KubernetesObject): string[] {
  const uid = obj.metadata?.ownerReferences?.find((r) => r.controller === true)?.uid;
  return uid ? [uid] : [];
}

/** `namespace/value` of a label, as an index value (label values repeat across namespaces). */
export function labelValue(label: string): (obj: KubernetesObject) => string[] {
  return (obj) => {
    const v = obj.metadata?.labels?.[label];
    return v === undefined ? [] : [`${obj.metadata?.namespace ?? ''}/${v}`];
  };
}
