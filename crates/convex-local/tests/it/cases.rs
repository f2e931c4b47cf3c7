//! Runs the JSON cases shared with `convex/tests/cases.test.ts`.
