import { randomUUID } from 'node:crypto';
import type { RequestHandler } from 'express';

/**
 * Accepts a caller's `X-Request-Id` when it is short and plain, else makes one;
 * echoes it in the response. Also notes when the request arrived.
 */
export const requestId: RequestHandler = (req, res, next) => {
  const given = req.get('x-request-id');
  const id = given && /^[A-Za-z0-9._:-]{1,64}$/.test(given) ? given : randomUUID();
  res.locals.requestId = id;
  res.locals.receivedAt = new Date();
  res.setHeader('X-Request-Id', id);
  next();
};
