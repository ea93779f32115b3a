// A request body the server refuses: a ShituError (its code decides the
// status, lib/server/error-status.ts) that also says whether the rest of the
// body is being drained, which decides whether the connection stays open.
import { ShituError, ShituErrorCode } from '../../errors';

export type BodyErrorCode = Extract<ShituErrorCode, 'ERR_BODY_TOO_LARGE' | 'ERR_BODY_INVALID' | 'ERR_BODY_PARSER'>;

export class BodyError extends ShituError {
  /**
   * The rest of the body is being read and dropped (its declared length is
   * within BODY_LIMITS.drainFactor times the limit): the connection stays open
   * for the client to read this answer, which it may only do once it has sent
   * the whole body. Otherwise the connection closes after the answer.
   */
  drained = false;
  constructor(code: BodyErrorCode, message: string) {
    super(code, message);
    this.name = 'BodyError';
  }
}
