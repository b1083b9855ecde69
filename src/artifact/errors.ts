import { BadRequestError } from '../gateway/errors.ts'

/** A `.mender` file (or a tar inside it) that cannot be accepted; its message says why and is safe to send. */
export class ArtifactError extends BadRequestError {}
