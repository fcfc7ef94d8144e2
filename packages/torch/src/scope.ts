// Deterministic tensor lifetime. V8's GC cannot see native memory, so every step of a training or
// sampling loop runs inside `tidy`: the tensors it creates are freed when it returns, except the
// ones it returns (handed to the enclosing scope) and the ones marked with `keep` (owned by the caller,
// e.g. parameters and optimizer state). Finalizers on the native handles remain as a backstop.

/** What a scope needs of a tensor; tensor.ts implements it. */
export interface Scoped {
  _scope: Scope | undefined;
  _kept: boolean;
  readonly isDisposed: boolean;
  dispose(): void;
  /** Hands the tensor to the garbage collector's backstop (it left every scope). */
  _escape(): void;
}

export class Scope {
  readonly tensors: Scoped[] = [];
}

const stack: Scope[] = [];

/**
 * Called by every new tensor: the innermost open scope takes ownership. A tensor made outside any
 * scope is left to the GC backstop at once. Tensors inside scopes never touch the GC, which keeps
 * the per-op cost low.
 */
export function track(t: Scoped): void {
  const scope = stack[stack.length - 1];
  if (scope !== undefined) {
    t._scope = scope;
    scope.tensors.push(t);
  } else {
    t._escape();
  }
}

/** Marks a tensor as owned by the caller: no scope will free it. Returns it. */
export function keep<T extends Scoped>(t: T): T {
  if (!t._kept && t._scope !== undefined) t._escape();
  t._kept = true;
  return t;
}

/** Number of open scopes (for tests and assertions). */
export function scopeDepth(): number {
  return stack.length;
}

function isScoped(v: unknown): v is Scoped {
  return typeof v === 'object' && v !== null && '_kept' in v && 'dispose' in v;
}

// The tensors reachable from a returned value: a tensor, or arrays, Maps and plain objects of them.
function collect(value: unknown, out: Set<Scoped>, seen: Set<unknown>): void {
  if (typeof value !== 'object' || value === null || seen.has(value)) return;
  seen.add(value);
  if (isScoped(value)) {
    out.add(value);
    return;
  }
  if (Array.isArray(value)) for (const v of value) collect(v, out, seen);
  else if (value instanceof Map) for (const v of value.values()) collect(v, out, seen);
  else if (Object.getPrototypeOf(value) === Object.prototype)
    for (const v of Object.values(value)) collect(v, out, seen);
}

/**
 * Runs `fn` in a new scope and frees every tensor created inside it, except the tensors in its
 * result (they move to the enclosing scope) and kept tensors. If `fn` throws, everything it made is
 * freed and the error propagates. `fn` must be synchronous.
 */
export function tidy<T>(fn: () => T): T {
  const scope = new Scope();
  stack.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (e) {
    stack.pop();
    release(scope, NONE);
    throw e;
  }
  stack.pop();
  if (result instanceof Promise) {
    release(scope, NONE);
    throw new Error('tidy: the function must be synchronous (it returned a Promise); await outside, tidy inside');
  }
  // Most loop bodies return nothing, a number or one tensor: those need no search of the result.
  const survivors: ReadonlySet<Scoped> | Scoped[] = isScoped(result)
    ? [result]
    : typeof result === 'object' && result !== null
      ? collectAll(result)
      : NONE;
  release(scope, survivors);
  // Nothing survives: no Set to search per tensor and no iterator over an empty one. On the dispatch
  // bench's op chain, where every scope is this case, this is 7% of the time per op.
  if (survivors === NONE) return result;
  const parent = stack[stack.length - 1];
  for (const t of survivors) {
    if (t._scope !== scope) continue;
    t._scope = parent;
    if (parent !== undefined) parent.tensors.push(t);
    else if (!t._kept) t._escape();
  }
  return result;
}

const NONE: ReadonlySet<Scoped> = new Set();

function collectAll(value: object): Set<Scoped> {
  const out = new Set<Scoped>();
  collect(value, out, new Set());
  return out;
}

function release(scope: Scope, survivors: ReadonlySet<Scoped> | readonly Scoped[]): void {
  const doomed: Scoped[] = [];
  if (survivors === NONE) {
    for (const t of scope.tensors) if (!t._kept && t._scope === scope) doomed.push(t);
  } else if (Array.isArray(survivors)) {
    for (const t of scope.tensors) if (!t._kept && t._scope === scope && !survivors.includes(t)) doomed.push(t);
  } else {
    const spared = survivors as ReadonlySet<Scoped>;
    for (const t of scope.tensors) if (!t._kept && t._scope === scope && !spared.has(t)) doomed.push(t);
  }
  disposeAll(doomed);
  scope.tensors.length = 0;
}

let disposeAll: (ts: Scoped[]) => void = (ts) => {
  for (const t of ts) t.dispose();
};
/** @internal lets tensor.ts free a whole scope in one native call. */
export function setDisposeAll(fn: (ts: Scoped[]) => void): void {
  disposeAll = fn;
}
