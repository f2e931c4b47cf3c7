import { query } from "./_generated/server";

/** The caller's identity as Convex sees it, or null when signed out. */
export const me = query({
  args: {},
  handler: async (ctx) => {
    return (await ctx.auth.getUserIdentity()) ?? null;
  },
});
