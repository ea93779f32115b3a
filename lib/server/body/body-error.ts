// A request body the server refuses: the HTTP status it answers with and a
// stable code (the envelope's errorCode is the status, as in PaddleX; the code
// is for logs and for callers of the library).
import { HttpError } from '../error-status';

export type BodyErrorCode = 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_DEPTH' | 'ERR_BODY_VALUES' | 'ERR_BODY_JSON' | 'ERR_BODY_EMPTY' | 'ERR_BODY_LENGTH' | 'ERR_BODY_PARSER';

export class BodyError extends HttpError {
  readonly code: BodyErrorCode;
  /**
   * The rest of the body is being read and dropped (its declared length is
   * within BODY_LIMITS.drainFactor times the limit): the connection stays open
   * for the client to read this answer, which it may only do once it has sent
   * the whole body. Otherwise the connection closes after the answer.
   */
  drained = false;
  constructor(code: BodyErrorCode, status: number, message: string, headers?: Record<string, string>) {
    super(status, message, headers);
    this.name = 'BodyError';
    this.code = code;
  }
}
