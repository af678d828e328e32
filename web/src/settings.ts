// The user's choices kept in this browser: whether implicit signals are collected.
import { useEffect, useState } from 'react';

const KEY = 'feedloop.collectSignals';
const listeners = new Set<(on: boolean) => void>();

export function signalsEnabled(): boolean {
  try {
    return window.localStorage.getItem(KEY) !== 'off';
  } catch {
    return true;
  }
}

export function setSignalsEnabled(on: boolean) {
  window.localStorage.setItem(KEY, on ? 'on' : 'off');
  for (const listener of listeners) listener(on);
}

export function useSignalsEnabled(): boolean {
  const [on, setOn] = useState(signalsEnabled);
  useEffect(() => {
    listeners.add(setOn);
    return () => void listeners.delete(setOn);
  }, []);
  return on;
}
