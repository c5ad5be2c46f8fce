/**
 * Wraps a `QueryEngine` so concurrent `listDatasets()` calls share one call in flight. Every
 * query request resolves its dataset through the listing; when the engine's cache is cold or
 * has just expired, a burst of requests would otherwise start one archive discovery each (the
 * DuckDB engine's discovery is several statements over every file), all at the same moment.
 *
 * Owns: sharing the in-flight listing. Never: caches a finished listing (the engine does) or
 * changes any other engine call.
 */
import type { DatasetInfo, QueryEngine } from '../ports.ts';

/** The same engine, with `listDatasets` single-flighted. */
export function singleFlightListing<E extends QueryEngine>(engine: E): E {
  let inFlight: Promise<readonly DatasetInfo[]> | null = null;
  const listDatasets = (): Promise<readonly DatasetInfo[]> => {
    if (inFlight === null) {
      inFlight = engine.listDatasets().finally(() => {
        inFlight = null;
      });
    }
    return inFlight;
  };
  return new Proxy(engine, {
    get(target, prop, receiver) {
      if (prop === 'listDatasets') return listDatasets;
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
