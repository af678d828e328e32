// Grouping rows in one pass: each row is pushed onto its group's array. Copying the group on every
// row (`map.set(k, [...(map.get(k) ?? []), row])`) is quadratic in a group's size, and a hot
// answer's group holds hundreds of thousands of implicit events.

/** Appends `value` to the array `map` holds under `key`, starting one when there is none. */
export function pushTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
