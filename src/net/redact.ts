// What may be written to logs of a request target: the path and the names of query parameters, never
// their values (hypha passes tokens as ?token=..., reconnection_token=..., access_token=...).

/** "/ws?token=abc&x=1" -> "/ws?token=...&x=..."; anything unparsable is cut at the first "?". */
export function redactTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const index = target.indexOf('?');
  if (index < 0) return target.slice(0, 200);
  const names = target.slice(index + 1).split('&').map((pair) => pair.split('=')[0]!.slice(0, 40));
  return `${target.slice(0, Math.min(index, 200))}?${names.map((n) => `${n}=...`).join('&')}`.slice(0, 400);
}
