import type { AuthConfig } from "convex/server";

// The same variable names as the rest of Courier (and convex-local):
// the issuer from CLERK_FRONTEND_API_URL, its alias CLERK_JWT_ISSUER_DOMAIN,
// or the host encoded in CLERK_PUBLISHABLE_KEY; the audience of the ID
// token from CLERK_OAUTH_CLIENT_ID. Set them in the deployment's
// environment (npx convex env set ...).

/** `pk_test_`/`pk_live_` + base64(`<host>$`) -> `https://<host>`. */
function domainFromPublishableKey(key: string | undefined): string | undefined {
  const match = key?.trim().match(/^pk_(?:test|live)_(.+)$/);
  if (!match) return undefined;
  try {
    const decoded = atob(match[1]);
    return decoded.endsWith("$") ? `https://${decoded.slice(0, -1)}` : undefined;
  } catch {
    return undefined;
  }
}

const domain =
  process.env.CLERK_FRONTEND_API_URL ||
  process.env.CLERK_JWT_ISSUER_DOMAIN ||
  domainFromPublishableKey(process.env.CLERK_PUBLISHABLE_KEY);
const applicationID = process.env.CLERK_OAUTH_CLIENT_ID;

export default {
  providers: domain && applicationID ? [{ domain, applicationID }] : [],
} satisfies AuthConfig;
