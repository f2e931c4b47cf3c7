/// <reference types="vite/client" />
// Runs the shared JSON cases (tests/cases/*.json) against the TypeScript
// functions with convex-test. convex-local runs the very same files over
// HTTP (crates/convex-local/tests/it/cases.rs); see tests/cases/README.md.
import { convexTest } from "convex-test";
import { makeFunctionReference } from "convex/server";
import { ConvexError } from "convex/values";
import { describe, expect, test } from "vitest";
import schema from "../schema";
import identities from "./identities.json";

const modules = import.meta.glob(["../*.ts", "../_generated/*.js"]);
const cases = import.meta.glob<Case>("./cases/*.json", { eager: true, import: "default" });

/** The issuer convex-test identities carry (convex-local uses its test issuer's URL). */
const ISSUER = "https://issuer.test";

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Step = {
  as: keyof typeof identities | null;
  query?: string;
  mutation?: string;
  args: Json;
  expect?: Json;
  error?: { data?: Json; messageContains?: string[] };
  save?: Record<string, string>;
};
type Case = { name: string; steps: Step[] };

const tokenIdentifier = (who: string) =>
  `${ISSUER}|${identities[who as keyof typeof identities].subject}`;

function substitute(value: Json, saved: Map<string, Json>): Json {
  if (typeof value === "string") {
    if (value.startsWith("$ref:")) return saved.get(value.slice(5)) ?? null;
    if (value.startsWith("$tokenIdentifier:")) return tokenIdentifier(value.slice(17));
    if (value === "$issuer") return ISSUER;
    return value;
  }
  if (Array.isArray(value)) return value.map((v) => substitute(v, saved));
  if (value !== null && typeof value === "object") {
    if ("$repeat" in value) {
      const { $repeat, times, prefix, suffix } = value as Record<string, string & number>;
      return (prefix ?? "") + String($repeat).repeat(times) + (suffix ?? "");
    }
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, saved)]));
  }
  return value;
}

/** Checks `actual` against a matcher; throws with the path on mismatch. */
function check(expected: Json, actual: unknown, saved: Map<string, Json>, path = "value"): void {
  if (typeof expected === "string" && expected.startsWith("$")) {
    if (expected === "$any") return expect(actual, path).not.toBeUndefined();
    if (expected === "$string") return expect(typeof actual, path).toBe("string");
    if (expected === "$number") return expect(typeof actual, path).toBe("number");
    if (expected === "$absent") return expect(actual, path).toBeUndefined();
    return expect(actual, path).toEqual(substitute(expected, saved));
  }
  if (Array.isArray(expected)) {
    expect(Array.isArray(actual), path).toBe(true);
    const items = actual as unknown[];
    expect(items.length, `${path}.length`).toBe(expected.length);
    expected.forEach((e, i) => check(e, items[i], saved, `${path}[${i}]`));
    return;
  }
  if (expected !== null && typeof expected === "object") {
    if ("$length" in expected) {
      expect(Array.isArray(actual), path).toBe(true);
      return expect((actual as unknown[]).length, `${path}.length`).toBe(expected.$length);
    }
    expect(actual !== null && typeof actual === "object", path).toBe(true);
    for (const [k, e] of Object.entries(expected)) {
      check(e, (actual as Record<string, unknown>)[k], saved, `${path}.${k}`);
    }
    return;
  }
  expect(actual, path).toEqual(expected);
}

function at(value: unknown, path: string): Json {
  return path === ""
    ? (value as Json)
    : (path.split(".").reduce((v: any, k) => v?.[k], value) as Json);
}

describe("shared function cases", () => {
  const entries = Object.entries(cases);
  test("there are cases to run", () => expect(entries.length).toBeGreaterThan(3));
  for (const [file, c] of entries) {
    test(`${file}: ${c.name}`, async () => {
      const t = convexTest(schema, modules);
      const saved = new Map<string, Json>();
      for (const [i, step] of c.steps.entries()) {
        const who = step.as;
        const caller =
          who === null
            ? t
            : t.withIdentity({
                ...identities[who],
                issuer: ISSUER,
                tokenIdentifier: tokenIdentifier(who),
              });
        const args = substitute(step.args, saved) as Record<string, any>;
        const label = `step ${i} (${step.query ?? step.mutation})`;
        let result: unknown;
        let error: unknown;
        try {
          result = step.query
            ? await caller.query(makeFunctionReference<"query">(step.query), args)
            : await caller.mutation(makeFunctionReference<"mutation">(step.mutation!), args);
        } catch (e) {
          error = e;
        }
        if (step.error) {
          expect(error, `${label} should fail`).toBeInstanceOf(Error);
          if (step.error.data !== undefined) {
            expect(error, label).toBeInstanceOf(ConvexError);
            expect((error as ConvexError<Json>).data, label).toEqual(step.error.data);
          }
          for (const part of step.error.messageContains ?? []) {
            expect((error as Error).message, label).toContain(part);
          }
          continue;
        }
        if (error) throw error;
        if (step.expect !== undefined) check(step.expect, result, saved, label);
        for (const [name, path] of Object.entries(step.save ?? {})) {
          saved.set(name, at(result, path));
        }
      }
    });
  }
});
