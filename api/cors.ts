import type { IncomingMessage, ServerResponse } from 'node:http';

/** The request headers a browser app sends: tRPC's links, the bearer token, a correlation id. */
const allowedHeaders = ['authorization', 'content-type', 'trpc-accept', 'x-correlation-id', 'last-event-id'];
const allowedMethods = ['GET', 'POST', 'OPTIONS'];
/** How long a browser may reuse a preflight's answer. */
const preflightMaxAgeSeconds = 600;

/**
 * CORS for the origins in API_CORS_ORIGINS (`*` for any). Tokens travel in a header (or, for
 * subscriptions, in connectionParams), never in cookies, so credentialed requests are not
 * allowed: no Access-Control-Allow-Credentials (fetch's default sends no cookies cross-origin;
 * an EventSource must not set `withCredentials`).
 */
export function createCors(origins: readonly string[]) {
  const any = origins.includes('*');
  const allowed = (origin: string) => any || origins.includes(origin);

  /** The CORS headers for a request from `origin`; none for a request that names no origin or one not allowed. */
  function headersFor(origin: string | undefined): Record<string, string> {
    if (origins.length === 0) return {};
    // The answer depends on the Origin header: caches must keep one per origin.
    const vary: Record<string, string> = any ? {} : { vary: 'Origin' };
    if (origin === undefined || !allowed(origin)) return vary;
    return { ...vary, 'access-control-allow-origin': any ? '*' : origin };
  }

  return {
    /** Adds the CORS headers to every response of this request. */
    decorate(req: IncomingMessage, res: ServerResponse) {
      for (const [name, value] of Object.entries(headersFor(req.headers.origin))) res.setHeader(name, value);
    },

    /**
     * Answers an OPTIONS request: 204 with what an allowed origin may send, 403 for an origin
     * not allowed (the browser then refuses the call; the message is for whoever debugs it).
     */
    preflight(req: IncomingMessage, res: ServerResponse) {
      const origin = req.headers.origin;
      if (origin === undefined) return res.writeHead(204, { allow: allowedMethods.join(', ') }).end();
      if (!allowed(origin)) {
        const message = origins.length === 0 ? 'cross-origin calls are off (API_CORS_ORIGINS is unset)' : `origin ${origin} is not in API_CORS_ORIGINS`;
        return res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ error: message }));
      }
      res
        .writeHead(204, {
          'access-control-allow-methods': allowedMethods.join(', '),
          'access-control-allow-headers': allowedHeaders.join(', '),
          'access-control-max-age': String(preflightMaxAgeSeconds),
        })
        .end();
    },
  };
}
