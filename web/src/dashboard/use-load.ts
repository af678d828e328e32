// Loading state for one request: data, error and a reload function.
import { useCallback, useEffect, useState } from 'react';

/** `deps` are what `load` depends on: it runs again when they change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[] = []) {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const run = useCallback(() => {
    setError(null);
    load().then(setData, setError);
  }, deps);
  useEffect(run, [run]);
  return { data, error, reload: run, setData };
}
