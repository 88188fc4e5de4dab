import { gunzipSync } from 'node:zlib';
import { AppError, MAX_BATCH_BYTES } from '@siyu/core';

/** Hard cap on what we read off the wire (compressed or not) before any parsing. */
const MAX_WIRE_BYTES = 4 * MAX_BATCH_BYTES;

/**
 * Reads a JSON body whatever the Content-Type says (RudderStack sends gzip with a form content type),
 * gunzipping when the body is gzip (by header or magic bytes). Returns the value and its decoded size.
 */
export async function readJsonBody(req: Request): Promise<{ value: unknown; bytes: number }> {
  const declared = Number(req.headers.get('content-length') ?? '0');
  if (declared > MAX_WIRE_BYTES) throw tooLarge(declared);
  const buf = Buffer.from(await req.arrayBuffer());
  if (buf.length > MAX_WIRE_BYTES) throw tooLarge(buf.length);
  let data = buf;
  const encoding = (req.headers.get('content-encoding') ?? '').toLowerCase();
  if (encoding.includes('gzip') || (buf.length > 2 && buf[0] === 0x1f && buf[1] === 0x8b)) {
    try {
      data = gunzipSync(buf, { maxOutputLength: MAX_WIRE_BYTES });
    } catch (e) {
      if (e instanceof RangeError || (e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(MAX_WIRE_BYTES + 1);
      throw new AppError('INVALID_INPUT', 'the body says it is gzip but could not be decompressed', { problems: [{ path: '(body)', message: 'not valid gzip: send it uncompressed, or compressed with gzip' }] });
    }
  }
  if (data.length === 0) throw new AppError('INVALID_INPUT', 'the request body is empty; send a JSON object', { problems: [{ path: '(body)', message: 'empty: send a JSON object' }] });
  try {
    return { value: JSON.parse(data.toString('utf8')), bytes: data.length };
  } catch (e) {
    throw new AppError('INVALID_INPUT', `the body is not valid JSON: ${(e as Error).message}`, { problems: [{ path: '(body)', message: (e as Error).message }] });
  }
}

function tooLarge(bytes: number): AppError {
  return new AppError('INVALID_INPUT', `the body is ${bytes} bytes; the limit is 500 KB per batch and 32 KB per message`, { limit: 'batch', maxBytes: MAX_BATCH_BYTES, bytes });
}
