// RFC 8785 (JCS) canonical JSON text of a parsed value: what a record's leaf hash commits to.
// Plain JavaScript, no library. JSON.stringify already writes strings and numbers as JCS
// requires (RFC 8785 §3.2.2.2 and ECMAScript number serialisation, §3.2.2.3); objects need
// their keys sorted by UTF-16 code units, which is JavaScript's default string sort.
// Records hold strings, integers within ±(2**53 - 1), booleans, null, arrays and objects
// (ledger/proofs/canonical.py): anything else is refused here too, naming where it is.
"use strict";

(function () {
  const MAX_DEPTH = 64;

  class CanonicalError extends Error {
    constructor(path, reason) {
      super(path + " " + reason);
      this.path = path;
      this.reason = reason;
    }
  }

  function write(value, path, depth, out) {
    if (depth > MAX_DEPTH) {
      throw new CanonicalError(path, "nests deeper than " + MAX_DEPTH + " levels");
    }
    if (value === null || typeof value === "boolean") {
      out.push(value === null ? "null" : String(value));
    } else if (typeof value === "string") {
      if (!value.isWellFormed()) {
        throw new CanonicalError(path, "holds a lone surrogate (not Unicode text)");
      }
      out.push(JSON.stringify(value));
    } else if (typeof value === "number") {
      if (!Number.isSafeInteger(value)) {
        throw new CanonicalError(path, "is not an integer within ±(2**53 - 1); write amounts as decimal strings");
      }
      out.push(JSON.stringify(value));
    } else if (Array.isArray(value)) {
      out.push("[");
      value.forEach(function (item, i) {
        if (i) out.push(",");
        write(item, path + "[" + i + "]", depth + 1, out);
      });
      out.push("]");
    } else if (typeof value === "object") {
      out.push("{");
      Object.keys(value).sort().forEach(function (key, i) {
        if (i) out.push(",");
        if (!key.isWellFormed()) {
          throw new CanonicalError(path, "has a member name with a lone surrogate");
        }
        out.push(JSON.stringify(key), ":");
        write(value[key], path + "." + key, depth + 1, out);
      });
      out.push("}");
    } else {
      throw new CanonicalError(path, "is not a JSON value");
    }
  }

  /** The JCS text of ``value`` (a string); throws CanonicalError naming the path. */
  function canonical(value, path) {
    const out = [];
    write(value, path || "$", 0, out);
    return out.join("");
  }

  window.CreditAnchorJcs = { canonical: canonical, CanonicalError: CanonicalError };
})();
