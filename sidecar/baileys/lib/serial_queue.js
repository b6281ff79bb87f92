// Runs async tasks one at a time, in the order they were pushed.
export class SerialQueue {
  constructor() {
    this.tail = Promise.resolve();
    this.length = 0; // pushed and not finished
  }

  /** Runs fn after every task pushed before it; resolves/rejects with fn's outcome. */
  push(fn) {
    this.length++;
    const run = this.tail.then(() => fn());
    this.tail = run.then(
      () => {
        this.length--;
      },
      () => {
        this.length--;
      },
    );
    return run;
  }

  /** Resolves when every task pushed so far has finished. */
  idle() {
    return this.tail;
  }
}

/** Resolves like promise, or rejects with Error(message) after ms. */
export function withTimeout(promise, ms, message) {
  if (!ms || ms <= 0) return promise;
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A Map that forgets its oldest entries beyond `limit`. */
export class BoundedMap extends Map {
  constructor(limit) {
    super();
    this.limit = limit;
  }

  set(key, value) {
    if (this.has(key)) this.delete(key);
    super.set(key, value);
    while (this.size > this.limit) this.delete(this.keys().next().value);
    return this;
  }
}
