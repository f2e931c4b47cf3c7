import { paginationOptsValidator } from "convex/server";
import { ConvexError, v } from "convex/values";
import { mutation, query, type QueryCtx } from "./_generated/server";

/** Longest message body in characters (JavaScript string length). */
const MAX_BODY_CHARS = 10_000;

/** The caller's identity, or `ConvexError("Not authenticated")`. */
async function requireIdentity(ctx: { auth: QueryCtx["auth"] }) {
  const identity = await ctx.auth.getUserIdentity();
  if (identity === null) {
    throw new ConvexError("Not authenticated");
  }
  return identity;
}

/** The name shown next to a message: name, else email, else "Anonymous". */
function authorName(identity: { name?: string; email?: string }): string {
  return identity.name?.trim() || identity.email?.trim() || "Anonymous";
}

/** The caller's messages, newest first. */
export const getForCurrentUser = query({
  args: {},
  handler: async (ctx) => {
    const identity = await requireIdentity(ctx);
    return await ctx.db
      .query("messages")
      .withIndex("by_author", (q) => q.eq("author", identity.tokenIdentifier))
      .order("desc")
      .collect();
  },
});

/** The caller's messages, newest first, one page at a time. */
export const list = query({
  args: { paginationOpts: paginationOptsValidator },
  handler: async (ctx, args) => {
    const identity = await requireIdentity(ctx);
    return await ctx.db
      .query("messages")
      .withIndex("by_author", (q) => q.eq("author", identity.tokenIdentifier))
      .order("desc")
      .paginate(args.paginationOpts);
  },
});

/**
 * Sends a message as the caller. The body is trimmed and must be 1 to
 * 10,000 characters. A repeated `clientMessageId` from the same author
 * returns the first message's id and writes nothing, so retries never
 * duplicate.
 */
export const send = mutation({
  args: { body: v.string(), clientMessageId: v.optional(v.string()) },
  handler: async (ctx, args) => {
    const identity = await requireIdentity(ctx);
    const body = args.body.trim();
    if (body.length === 0) {
      throw new ConvexError("Message body must not be empty");
    }
    if (body.length > MAX_BODY_CHARS) {
      throw new ConvexError(
        `Message body is too long: ${body.length} characters (at most ${MAX_BODY_CHARS})`,
      );
    }
    const author = identity.tokenIdentifier;
    const clientMessageId = args.clientMessageId;
    if (clientMessageId !== undefined) {
      const existing = await ctx.db
        .query("messages")
        .withIndex("by_author_client_message_id", (q) =>
          q.eq("author", author).eq("clientMessageId", clientMessageId),
        )
        .first();
      if (existing !== null) {
        return existing._id;
      }
    }
    return await ctx.db.insert("messages", {
      author,
      authorName: authorName(identity),
      body,
      ...(clientMessageId !== undefined ? { clientMessageId } : {}),
    });
  },
});
