import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  messages: defineTable({
    author: v.string(),
    authorName: v.string(),
    body: v.string(),
    clientMessageId: v.optional(v.string()),
  })
    .index("by_author", ["author"])
    .index("by_author_client_message_id", ["author", "clientMessageId"]),
});
